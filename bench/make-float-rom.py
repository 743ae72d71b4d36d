#!/usr/bin/env python3
"""Generate the floating-point benchmark ROMs: x87 and SSE2 versions of a dot product and a
Mandelbrot loop, in 32-bit flat protected mode.

Usage: make-float-rom.py WORKLOAD [--out FILE] [--repeat R] [--n N] [--maxit M]
  WORKLOAD: x87-dot, sse2-dot, x87-mandel or sse2-mandel

Writes FILE (a 4 KiB ROM image for `webx86 rom`, default target/bench/WORKLOAD.bin),
FILE.expected (the exact text the ROM prints to port 0xE9) and FILE.instructions (how many
instructions it retires, the final HLT included), and prints a summary.

Every ROM enters flat 32-bit protected mode (bench/romasm.py), makes the FPU usable
(CR0: EM and TS cleared, MP and NE set; for SSE2 also CR4.OSFXSR and LDMXCSR 0x1F80 = all
exceptions masked, round to nearest; for x87 FNINIT and FLDCW 0x027F = all exceptions masked,
round to nearest, precision control 10b = 53-bit significand), runs a fixed amount of work,
prints a checksum (the bits of a double as 16 hex digits) and halts with CLI; HLT.

The checksums are predicted here with Python floats, which are IEEE doubles rounded to nearest:
every operation the ROMs do (+, -, *, int32 -> double) is one correctly rounded IEEE double
operation in Python too, in the same order. x87 with precision control = double rounds every
result to 53 bits as well; it differs from IEEE double only in exponent range (no overflow,
underflow or denormal results here: values stay within about 2^-70 .. 2^8), so the x87 results
are the same bits.

Workloads (the loops are those a compiler emits for `-mfpmath=387` or `-msse2 -mfpmath=sse`):
  x87-dot     arrays a, b of N doubles (a[i], b[i] = successive LCG outputs as int32 x 2^-31,
              made by FILD/FMUL/FSTP), then R passes of
                  acc = 0; for i: acc += a[i] * b[i]       (FLD, FMUL, INC, FADDP, CMP, JNE)
                  total += acc
              prints total.
  sse2-dot    the same arrays (CVTSI2SD/MULSD/MOVSD), the loop vectorised with packed doubles:
                  acc = (0, 0); for i step 2: acc += a[i:i+2] * b[i:i+2]
                                                         (MOVAPD, MULPD, ADD, ADDPD, CMP, JNE)
                  total += acc.lo + acc.hi                (UNPCKHPD, ADDSD)
              prints total.
  x87-mandel  R frames of a 64 x 48 Mandelbrot set over [-2, 0.5) x [-1.125, 1.125), at most M
  sse2-mandel iterations a point, z = z^2 + c from z = 0 while |z|^2 <= 4:
                  zr2 = zr*zr; zi2 = zi*zi; s = zr2 + zi2; if s > 4: escape
                  zi = (zr + zr)*zi + ci; zr = (zr2 - zi2) + cr
              x87 keeps zr, zi and 4.0 on the register stack (FLD ST(i), FMUL, FADD, FCOMIP,
              FSUBP, FMULP, FXCH, FADD m64); SSE2 keeps everything in XMM registers (MOVAPD,
              MULSD, ADDSD, SUBSD, COMISD). On escape, fsum += s. Prints the total iteration
              count (8 hex digits) and fsum.
"""
import argparse
import os
import struct
import sys

from romasm import (FLAT32_ENTRY_INSTRUCTIONS, HALT_INSTRUCTIONS, MASK, PRINT_HEX_INSTRUCTIONS,
                    Assembler, finish, flat32_entry, u32, write_rom)

WORKLOADS = ('x87-dot', 'sse2-dot', 'x87-mandel', 'sse2-mandel')
DEFAULT_REPEAT = {'x87-dot': 20_000, 'sse2-dot': 20_000, 'x87-mandel': 20, 'sse2-mandel': 20}

# RAM used by the ROMs (all below 640 KiB; the stack grows down from 0x10000).
TMP = 0x8000      # int32 handed from EAX to FILD
CR = 0x8008       # double: the point's real part (x87 Mandelbrot)
CI = 0x8010       # double: the row's imaginary part (x87 Mandelbrot)
FSUM = 0x8018     # double: sum of |z|^2 at escape (Mandelbrot)
RESULT = 0x8020   # double: the dot product total, stored to be printed
ARRAY_A = 0x20000  # N doubles, 16-byte aligned for MOVAPD
ARRAY_B = 0x30000
MAX_N = 0x10000 // 8

LCG_SEED = 0x2545F491
LCG_MUL = 1664525
LCG_ADD = 1013904223
SCALE = 2.0 ** -31

# The Mandelbrot grid: WIDTH x HEIGHT points from (X0, Y0) in steps DX, DY (all exact).
WIDTH, HEIGHT = 64, 48
X0, Y0 = -2.0, -1.125
DX, DY = 2.5 / WIDTH, 2.25 / HEIGHT

X87_CW = 0x027F   # all exceptions masked, RC = nearest, PC = 10b (double)
MXCSR = 0x1F80    # all exceptions masked, RC = nearest, no FTZ/DAZ


def f64(x):
    return struct.pack('<d', x)


def bits(x):
    return struct.unpack('<Q', f64(x))[0]


def fpu_setup(a, sse):
    """CR0/CR4 and the FPU's control registers. Returns the instructions it retires."""
    a.emit([0x0F, 0x20, 0xC0])                      # mov eax, cr0
    a.emit([0x83, 0xE0, 0xF3])                      # and eax, ~0xC (83 /4 ib: clear EM, TS)
    a.emit([0x83, 0xC8, 0x22])                      # or eax, 0x22 (83 /1 ib: set MP, NE)
    a.emit([0x0F, 0x22, 0xC0])                      # mov cr0, eax
    if sse:
        a.emit([0x0F, 0x20, 0xE0])                  # mov eax, cr4 (0F 20 /r, ModRM 11 100 000)
        a.emit([0x0D], u32(0x200))                  # or eax, 0x200 (CR4.OSFXSR)
        a.emit([0x0F, 0x22, 0xE0])                  # mov cr4, eax
        a.emit([0x0F, 0xAE, 0x15])                  # ldmxcsr [disp32] (0F AE /2, ModRM 00 010 101)
        a.abs32('mxcsr')
        return 8
    a.emit([0xDB, 0xE3])                            # fninit
    a.emit([0xD9, 0x2D])                            # fldcw [disp32] (D9 /5, ModRM 00 101 101)
    a.abs32('x87_cw')
    return 6


def constants():
    return [('x87_cw', struct.pack('<Hxxxxxx', X87_CW)), ('mxcsr', struct.pack('<Ixxxx', MXCSR)),
            ('scale', f64(SCALE)), ('four', f64(4.0)), ('x0', f64(X0)), ('y0', f64(Y0)),
            ('dx', f64(DX)), ('dy', f64(DY))]


def print_double(a, addr):
    """Prints the double at `addr` as 16 hex digits (high dword first). Returns instructions."""
    a.emit([0xA1], u32(addr + 4))                   # mov eax, [addr + 4] (A1 moffs32)
    a.rel32([0xE8], 'print_hex')                    # call print_hex
    a.emit([0xA1], u32(addr))                       # mov eax, [addr]
    a.rel32([0xE8], 'print_hex')                    # call print_hex
    return 2 * (2 + PRINT_HEX_INSTRUCTIONS)


def newline(a):
    a.emit([0xB0, 0x0A])                            # mov al, '\n'
    a.emit([0xE6, 0xE9])                            # out 0xE9, al
    return 2


def lcg_values(n):
    """a[i], b[i] as the ROMs make them: successive LCG outputs, a first, as int32 x 2^-31."""
    state, out = LCG_SEED, []
    for _ in range(2 * n):
        state = (state * LCG_MUL + LCG_ADD) & MASK
        out.append(float(state - (1 << 32) if state & 0x80000000 else state) * SCALE)
    return out[0::2], out[1::2]


def fill_element(a, sse, sib):
    """The next LCG output, as int32 x 2^-31, to the double at SIB (a base + ECX*8)."""
    a.emit([0x69, 0xC0], u32(LCG_MUL))              # imul eax, eax, 1664525 (69 /r id)
    a.emit([0x05], u32(LCG_ADD))                    # add eax, 1013904223
    if sse:
        a.emit([0xF2, 0x0F, 0x2A, 0xC0])            # cvtsi2sd xmm0, eax (ModRM 11 000 000)
        a.emit([0xF2, 0x0F, 0x59, 0x05])            # mulsd xmm0, [scale] (ModRM 00 000 101)
        a.abs32('scale')
        a.emit([0xF2, 0x0F, 0x11, 0x04, sib])       # movsd [base + ecx*8], xmm0 (ModRM 00 000 100)
    else:
        a.emit([0xA3], u32(TMP))                    # mov [tmp], eax
        a.emit([0xDB, 0x05], u32(TMP))              # fild dword [tmp] (DB /0, ModRM 00 000 101)
        a.emit([0xDC, 0x0D])                        # fmul qword [scale] (DC /1, ModRM 00 001 101)
        a.abs32('scale')
        a.emit([0xDD, 0x1C, sib])                   # fstp qword [base + ecx*8] (DD /3, ModRM 00 011 100)


def fill_arrays(a, sse, n):
    """a[i] and b[i] from the LCG in EAX. Leaves EBX = &a, EDX = &b. Returns instructions."""
    a.emit([0xB8], u32(LCG_SEED))                   # mov eax, seed
    a.emit([0x31, 0xC9])                            # xor ecx, ecx (i)
    a.emit([0xBB], u32(ARRAY_A))                    # mov ebx, &a
    a.emit([0xBA], u32(ARRAY_B))                    # mov edx, &b
    a.label('fill')
    fill_element(a, sse, 0xCB)                      # a[i]: SIB 11 001 011 = [ebx + ecx*8]
    fill_element(a, sse, 0xCA)                      # b[i]: SIB 11 001 010 = [edx + ecx*8]
    a.emit([0x41])                                  # inc ecx
    a.emit([0x81, 0xF9], u32(n))                    # cmp ecx, N (81 /7 id)
    a.rel8([0x75], 'fill')                          # jne fill
    per_element = 2 * (5 if sse else 6) + 3
    return 4 + n * per_element


def assemble_dot(sse, repeat, n):
    a = Assembler()
    flat32_entry(a)
    count = FLAT32_ENTRY_INSTRUCTIONS + fpu_setup(a, sse) + fill_arrays(a, sse, n)
    if sse:
        a.emit([0x66, 0x0F, 0x57, 0xFF])            # xorpd xmm7, xmm7 (total; ModRM 11 111 111)
    else:
        a.emit([0xD9, 0xEE])                        # fldz (total)
    a.emit([0xBF], u32(repeat))                     # mov edi, R
    a.label('pass')
    if sse:
        a.emit([0x66, 0x0F, 0x57, 0xC0])            # xorpd xmm0, xmm0 (acc pair)
    else:
        a.emit([0xD9, 0xEE])                        # fldz (acc): st = acc total
    a.emit([0x31, 0xC0])                            # xor eax, eax (i)
    a.emit([0xB9], u32(n))                          # mov ecx, N
    a.label('element')
    if sse:
        a.emit([0x66, 0x0F, 0x28, 0x0C, 0xC3])      # movapd xmm1, [ebx + eax*8] (ModRM 00 001 100, SIB 11 000 011)
        a.emit([0x66, 0x0F, 0x59, 0x0C, 0xC2])      # mulpd xmm1, [edx + eax*8] (SIB 11 000 010)
        a.emit([0x83, 0xC0, 0x02])                  # add eax, 2 (83 /0 ib)
        a.emit([0x66, 0x0F, 0x58, 0xC1])            # addpd xmm0, xmm1 (ModRM 11 000 001)
    else:
        a.emit([0xDD, 0x04, 0xC3])                  # fld qword [ebx + eax*8] (DD /0, SIB 11 000 011)
        a.emit([0xDC, 0x0C, 0xC2])                  # fmul qword [edx + eax*8] (DC /1, SIB 11 000 010)
        a.emit([0x40])                              # inc eax
        a.emit([0xDE, 0xC1])                        # faddp st1, st0: acc += a[i] * b[i]
    a.emit([0x39, 0xC8])                            # cmp eax, ecx (39 /r, ModRM 11 001 000)
    a.rel8([0x75], 'element')                       # jne element
    if sse:
        a.emit([0x66, 0x0F, 0x28, 0xC8])            # movapd xmm1, xmm0 (ModRM 11 001 000)
        a.emit([0x66, 0x0F, 0x15, 0xC9])            # unpckhpd xmm1, xmm1: both lanes = acc.hi
        a.emit([0xF2, 0x0F, 0x58, 0xC1])            # addsd xmm0, xmm1: acc.lo + acc.hi
        a.emit([0xF2, 0x0F, 0x58, 0xF8])            # addsd xmm7, xmm0: total += (ModRM 11 111 000)
        tail = 4
    else:
        a.emit([0xDE, 0xC1])                        # faddp st1, st0: total += acc
        tail = 1
    a.emit([0x4F])                                  # dec edi
    a.rel8([0x75], 'pass')                          # jnz pass
    if sse:
        a.emit([0xF2, 0x0F, 0x11, 0x3D], u32(RESULT))  # movsd [result], xmm7 (ModRM 00 111 101)
    else:
        a.emit([0xDD, 0x1D], u32(RESULT))           # fstp qword [result] (DD /3, ModRM 00 011 101)
    steps = n // 2 if sse else n
    count += 2 + repeat * (3 + 6 * steps + tail + 2) + 1
    count += print_double(a, RESULT) + newline(a) + HALT_INSTRUCTIONS
    return finish(a, constants()), count


def predict_dot(sse, repeat, n):
    xs, ys = lcg_values(n)
    if sse:
        lo = hi = 0.0
        for i in range(0, n, 2):
            lo = lo + xs[i] * ys[i]
            hi = hi + xs[i + 1] * ys[i + 1]
        acc = lo + hi
    else:
        acc = 0.0
        for x, y in zip(xs, ys):
            acc = acc + x * y
    total = 0.0
    for _ in range(repeat):
        total = total + acc
    return '%016x\n' % bits(total)


def set_coordinate(a, sse, start, modrm, ram):
    """A coordinate = the constant `start`: in the XMM register of `modrm` (ModRM 00 reg 101,
    disp32) for SSE2, in the double at `ram` for x87. Returns the instructions it retires."""
    if sse:
        a.emit([0xF2, 0x0F, 0x10, modrm])           # movsd xmmN, [start]
        a.abs32(start)
        return 1
    a.emit([0xDD, 0x05])                            # fld qword [start] (DD /0, ModRM 00 000 101)
    a.abs32(start)
    a.emit([0xDD, 0x1D], u32(ram))                  # fstp qword [ram] (DD /3, ModRM 00 011 101)
    return 2


def step_coordinate(a, sse, step, modrm, ram):
    """The coordinate of `set_coordinate` += the constant `step`. Returns instructions."""
    if sse:
        a.emit([0xF2, 0x0F, 0x58, modrm])           # addsd xmmN, [step]
        a.abs32(step)
        return 1
    a.emit([0xDD, 0x05], u32(ram))                  # fld qword [ram]
    a.emit([0xDC, 0x05])                            # fadd qword [step] (DC /0, ModRM 00 000 101)
    a.abs32(step)
    a.emit([0xDD, 0x1D], u32(ram))                  # fstp qword [ram]
    return 3


def assemble_mandel(sse, repeat, maxit):
    """The ROM and, per path, the instructions it retires: a dict of counts for `predict`."""
    a = Assembler()
    flat32_entry(a)
    setup = FLAT32_ENTRY_INSTRUCTIONS + fpu_setup(a, sse)
    a.emit([0x31, 0xED])                            # xor ebp, ebp (iteration count)
    if sse:
        a.emit([0xF2, 0x0F, 0x10, 0x2D])            # movsd xmm5, [four] (ModRM 00 101 101)
        a.abs32('four')
        a.emit([0x66, 0x0F, 0x57, 0xD2])            # xorpd xmm2, xmm2 (ModRM 11 010 010)
        a.emit([0xF2, 0x0F, 0x11, 0x15], u32(FSUM))  # movsd [fsum], xmm2 (ModRM 00 010 101)
    else:
        a.emit([0xD9, 0xEE])                        # fldz
        a.emit([0xDD, 0x1D], u32(FSUM))             # fstp qword [fsum] (DD /3, ModRM 00 011 101)
        a.emit([0xDD, 0x05])                        # fld qword [four] (DD /0): st = 4
        a.abs32('four')
    a.emit([0xBF], u32(repeat))                     # mov edi, R (frames)
    setup += 5
    a.label('frame')
    frame_head = set_coordinate(a, sse, 'y0', 0x3D, CI)  # ci = y0 (XMM7: ModRM 00 111 101)
    a.emit([0xBE], u32(HEIGHT))                     # mov esi, H (rows)
    a.label('row')
    row_head = set_coordinate(a, sse, 'x0', 0x35, CR)  # cr = x0 (XMM6: ModRM 00 110 101)
    a.emit([0xBB], u32(WIDTH))                      # mov ebx, W (points)
    a.label('point')
    if sse:
        a.emit([0x66, 0x0F, 0x57, 0xC0])            # xorpd xmm0, xmm0 (zr)
        a.emit([0x66, 0x0F, 0x57, 0xC9])            # xorpd xmm1, xmm1 (zi; ModRM 11 001 001)
    else:
        a.emit([0xD9, 0xEE])                        # fldz: zi 4
        a.emit([0xD9, 0xEE])                        # fldz: zr zi 4
    a.emit([0xB9], u32(maxit))                      # mov ecx, M
    a.label('iter')
    if sse:
        a.emit([0x66, 0x0F, 0x28, 0xD0])            # movapd xmm2, xmm0 (ModRM 11 010 000)
        a.emit([0xF2, 0x0F, 0x59, 0xD0])            # mulsd xmm2, xmm0: zr2
        a.emit([0x66, 0x0F, 0x28, 0xD9])            # movapd xmm3, xmm1 (ModRM 11 011 001)
        a.emit([0xF2, 0x0F, 0x59, 0xD9])            # mulsd xmm3, xmm1: zi2
        a.emit([0x66, 0x0F, 0x28, 0xE2])            # movapd xmm4, xmm2 (ModRM 11 100 010)
        a.emit([0xF2, 0x0F, 0x58, 0xE3])            # addsd xmm4, xmm3: s = zr2 + zi2
        a.emit([0x66, 0x0F, 0x2F, 0xE5])            # comisd xmm4, xmm5: s ? 4 (ModRM 11 100 101)
        a.rel8([0x77], 'escape')                    # ja escape (CF = ZF = 0: s > 4)
        a.emit([0xF2, 0x0F, 0x58, 0xC0])            # addsd xmm0, xmm0: 2 zr
        a.emit([0xF2, 0x0F, 0x59, 0xC8])            # mulsd xmm1, xmm0: zi * 2 zr (ModRM 11 001 000)
        a.emit([0xF2, 0x0F, 0x58, 0xCF])            # addsd xmm1, xmm7: new zi = .. + ci
        a.emit([0xF2, 0x0F, 0x5C, 0xD3])            # subsd xmm2, xmm3: zr2 - zi2 (ModRM 11 010 011)
        a.emit([0xF2, 0x0F, 0x58, 0xD6])            # addsd xmm2, xmm6: .. + cr
        a.emit([0x66, 0x0F, 0x28, 0xC2])            # movapd xmm0, xmm2: new zr
        iteration, to_escape = 16, 8
    else:
        a.emit([0xD9, 0xC0])                        # fld st0: zr zr zi 4
        a.emit([0xD8, 0xC8])                        # fmul st0, st0: zr2 zr zi 4
        a.emit([0xD9, 0xC2])                        # fld st2: zi zr2 zr zi 4
        a.emit([0xD8, 0xC8])                        # fmul st0, st0: zi2 zr2 zr zi 4
        a.emit([0xD9, 0xC0])                        # fld st0: zi2 zi2 zr2 zr zi 4
        a.emit([0xD8, 0xC2])                        # fadd st0, st2: s zi2 zr2 zr zi 4
        a.emit([0xDF, 0xF5])                        # fcomip st0, st5: s ? 4, pop: zi2 zr2 zr zi 4
        a.rel8([0x77], 'escape')                    # ja escape (CF = ZF = 0: s > 4)
        a.emit([0xDE, 0xE9])                        # fsubp st1, st0: zr2 - zi2, pop: d zr zi 4
        a.emit([0xDC, 0x05], u32(CR))               # fadd qword [cr] (DC /0): new zr, zr zi 4
        a.emit([0xD9, 0xC9])                        # fxch st1: zr nzr zi 4
        a.emit([0xD8, 0xC0])                        # fadd st0, st0: 2zr nzr zi 4
        a.emit([0xDE, 0xCA])                        # fmulp st2, st0: zi * 2zr, pop: nzr p 4
        a.emit([0xD9, 0xC9])                        # fxch st1: p nzr 4
        a.emit([0xDC, 0x05], u32(CI))               # fadd qword [ci]: nzi nzr 4
        a.emit([0xD9, 0xC9])                        # fxch st1: nzr nzi 4
        iteration, to_escape = 18, 8
    a.emit([0x49])                                  # dec ecx
    a.rel8([0x75], 'iter')                          # jnz iter
    if sse:
        a.rel8([0xEB], 'next')                      # jmp next
        a.label('escape')
        a.emit([0xF2, 0x0F, 0x58, 0x25], u32(FSUM))  # addsd xmm4, [fsum]: s + fsum (ModRM 00 100 101)
        a.emit([0xF2, 0x0F, 0x11, 0x25], u32(FSUM))  # movsd [fsum], xmm4
        bounded, escaped = 1, 2
    else:
        a.emit([0xDD, 0xD8])                        # fstp st0: zi 4
        a.emit([0xDD, 0xD8])                        # fstp st0: 4
        a.rel8([0xEB], 'next')                      # jmp next
        a.label('escape')                           # zi2 zr2 zr zi 4
        a.emit([0xDE, 0xC1])                        # faddp st1, st0: s zr zi 4
        a.emit([0xDC, 0x05], u32(FSUM))             # fadd qword [fsum]: s + fsum
        a.emit([0xDD, 0x1D], u32(FSUM))             # fstp qword [fsum]: zr zi 4
        a.emit([0xDD, 0xD8])                        # fstp st0: zi 4
        a.emit([0xDD, 0xD8])                        # fstp st0: 4
        bounded, escaped = 3, 5
    a.label('next')
    a.emit([0x81, 0xC5], u32(maxit))                # add ebp, M (81 /0 id)
    a.emit([0x29, 0xCD])                            # sub ebp, ecx: count += M - ECX (29 /r, ModRM 11 001 101)
    point_tail = 4 + step_coordinate(a, sse, 'dx', 0x35, CR)  # cr += dx
    a.emit([0x4B])                                  # dec ebx
    a.rel32([0x0F, 0x85], 'point')                  # jnz point
    row_tail = 2 + step_coordinate(a, sse, 'dy', 0x3D, CI)  # ci += dy
    a.emit([0x4E])                                  # dec esi
    a.rel32([0x0F, 0x85], 'row')                    # jnz row
    a.emit([0x4F])                                  # dec edi
    a.rel32([0x0F, 0x85], 'frame')                  # jnz frame
    a.emit([0x89, 0xE8])                            # mov eax, ebp (89 /r, ModRM 11 101 000)
    a.rel32([0xE8], 'print_hex')                    # call print_hex
    a.emit([0xB0, 0x20])                            # mov al, ' '
    a.emit([0xE6, 0xE9])                            # out 0xE9, al
    tail = 4 + PRINT_HEX_INSTRUCTIONS + print_double(a, FSUM) + newline(a) + HALT_INSTRUCTIONS
    counts = {
        'setup': setup, 'frame': frame_head + 1 + 2, 'row': row_head + 1 + row_tail,
        'point': 3 + point_tail, 'iteration': iteration, 'bounded': bounded,
        'escaped': to_escape + escaped, 'tail': tail,
    }
    return finish(a, constants()), counts


def predict_mandel(counts, repeat, maxit):
    """The output and instruction count, by running the frame with Python floats."""
    escapes, iterations, bounded = [], 0, 0
    ci = Y0
    for _ in range(HEIGHT):
        cr = X0
        for _ in range(WIDTH):
            zr = zi = 0.0
            for k in range(maxit):
                zr2 = zr * zr
                zi2 = zi * zi
                s = zr2 + zi2
                if s > 4.0:
                    escapes.append(s)
                    iterations += k
                    break
                zi = (zr + zr) * zi + ci
                zr = (zr2 - zi2) + cr
            else:
                iterations += maxit
                bounded += 1
            cr = cr + DX
        ci = ci + DY
    fsum = 0.0
    for _ in range(repeat):
        for s in escapes:
            fsum = fsum + s
    points = WIDTH * HEIGHT
    per_frame = (counts['frame'] + HEIGHT * counts['row'] + points * counts['point']
                 + iterations * counts['iteration'] + bounded * counts['bounded']
                 + len(escapes) * counts['escaped'])
    instructions = counts['setup'] + repeat * per_frame + counts['tail']
    text = '%08x %016x\n' % (repeat * iterations & MASK, bits(fsum))
    return text, instructions


def build(workload, repeat, n, maxit):
    """(ROM image, expected output, instructions retired) for one workload."""
    sse = workload.startswith('sse2')
    if workload.endswith('dot'):
        rom, instructions = assemble_dot(sse, repeat, n)
        return rom, predict_dot(sse, repeat, n), instructions
    rom, counts = assemble_mandel(sse, repeat, maxit)
    text, instructions = predict_mandel(counts, repeat, maxit)
    return rom, text, instructions


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('workload', choices=WORKLOADS)
    ap.add_argument('--out', help='ROM file (target/bench/WORKLOAD.bin)')
    ap.add_argument('--repeat', type=int,
                    help='dot product passes or Mandelbrot frames R (%s)' % ', '.join(
                        '%s %d' % kv for kv in DEFAULT_REPEAT.items()))
    ap.add_argument('--n', type=int, default=1024, help='dot product length N, even (1024)')
    ap.add_argument('--maxit', type=int, default=256,
                    help='Mandelbrot iterations per point at most M (256)')
    args = ap.parse_args()
    repeat = DEFAULT_REPEAT[args.workload] if args.repeat is None else args.repeat
    if not 1 <= repeat <= MASK:
        ap.error('--repeat must be between 1 and 2^32-1')
    if not (2 <= args.n <= MAX_N and args.n % 2 == 0):
        ap.error('--n must be even, between 2 and %d' % MAX_N)
    if not 1 <= args.maxit <= 0x7FFFFFFF:
        ap.error('--maxit must be between 1 and 2^31-1')
    out = args.out or os.path.join(root, 'target', 'bench', args.workload + '.bin')
    rom, text, instructions = build(args.workload, repeat, args.n, args.maxit)
    write_rom(out, rom, text, instructions)
    print('%s: %s x %d, %d instructions, expected output %r'
          % (out, args.workload, repeat, instructions, text))
    return 0


if __name__ == '__main__':
    sys.exit(main())
