#!/usr/bin/env python3
"""Generate the interpreter benchmark ROM: a tight integer loop in 32-bit flat protected mode.

Usage: make-loop-rom.py [--out FILE] [--outer R] [--inner M]

Writes FILE (a 4 KiB ROM image for `webx86 rom`, default target/bench/loop.bin),
FILE.expected (the exact text the ROM prints to port 0xE9) and FILE.instructions (how many
instructions it retires, the final HLT included), and prints a summary.

What the ROM does (the code is hand-assembled below, every instruction commented):
  1. From the reset vector: CLI, LGDT, set CR0.PE, far jump into a flat 32-bit code segment,
     load flat data segments and a stack.
  2. The measured loop, R outer passes of M inner iterations:
         outer:  eax = 0; ebx = 0x9E3779B9; ecx = M; edx = 0x12345678
         inner:  add eax, ebx
                 xor ebx, ecx
                 sub edx, eax
                 cmp eax, edx
                 jb  skip          ; taken about half the time
                 inc esi
         skip:   dec ecx
                 jnz inner         ; 7 or 8 instructions per iteration
                 add ebp, eax      ; fold the pass's result into the checksum
                 add ebp, edx
                 dec edi
                 jnz outer
     Every outer pass starts from the same registers, so the checksum is cheap to predict:
     EBP = R * (EAX + EDX) and ESI = R * (INCs per pass), mod 2^32.
  3. Prints EBP and ESI as 8 lower-case hex digits each ("xxxxxxxx yyyyyyyy\\n") on port 0xE9,
     then CLI; HLT, so `webx86 rom` exits 0.

The instructions the loop uses are ADD, XOR, SUB, CMP, Jcc, INC, DEC on 32-bit registers:
the common integer core of compiled code, with no memory operands in the loop.
"""
import argparse
import os
import struct
import sys

ROM_SIZE = 0x1000
# The ROM is mapped so its last byte is at physical 0xFFFFF (and 0xFFFFFFFF).
ROM_BASE = 0x100000 - ROM_SIZE
# Real-mode CS is F000 at reset, so file offset o is IP 0xF000 + (ROM_BASE - 0xF0000) + o.
REAL_IP_BASE = ROM_BASE - 0xF0000
MASK = 0xFFFFFFFF
EBX0 = 0x9E3779B9
EDX0 = 0x12345678


class Assembler:
    """Bytes at file offsets, with labels and fix-ups for forward references."""

    def __init__(self):
        self.code = bytearray()
        self.labels = {}
        self.fixups = []  # (offset, kind, label, end of instruction)

    def here(self):
        return len(self.code)

    def label(self, name):
        self.labels[name] = self.here()

    def emit(self, *parts):
        for part in parts:
            self.code += bytes(part)

    def rel8(self, opcode, label):
        self.emit(opcode)
        self.fixups.append((self.here(), 'rel8', label, self.here() + 1))
        self.emit([0])

    def rel32(self, opcode, label):
        self.emit(opcode)
        self.fixups.append((self.here(), 'rel32', label, self.here() + 4))
        self.emit([0, 0, 0, 0])

    def abs32(self, label):
        """The linear (= physical) address of `label` as a dword: flat segments have base 0."""
        self.fixups.append((self.here(), 'abs32', label, None))
        self.emit([0, 0, 0, 0])

    def ip16(self, label):
        """The real-mode offset of `label` in segment F000 as a word."""
        self.fixups.append((self.here(), 'ip16', label, None))
        self.emit([0, 0])

    def align(self, n):
        while self.here() % n:
            self.emit([0x90])

    def resolve(self):
        for at, kind, label, end in self.fixups:
            target = self.labels[label]
            if kind == 'rel8':
                rel = target - end
                assert -128 <= rel <= 127, label
                self.code[at] = rel & 0xFF
            elif kind == 'rel32':
                struct.pack_into('<i', self.code, at, target - end)
            elif kind == 'abs32':
                struct.pack_into('<I', self.code, at, ROM_BASE + target)
            else:
                struct.pack_into('<H', self.code, at, REAL_IP_BASE + target)


def u32(value):
    return struct.pack('<I', value & MASK)


def assemble(outer, inner):
    a = Assembler()
    # --- 16-bit real mode, entered from the reset vector ---
    a.label('start16')
    a.emit([0xFA])                                  # cli
    a.emit([0x66, 0x2E, 0x0F, 0x01, 0x16])          # o32 lgdt cs:[disp16] (0F 01 /2, ModRM 16)
    a.ip16('gdtr')
    a.emit([0x0F, 0x20, 0xC0])                      # mov eax, cr0
    a.emit([0x0C, 0x01])                            # or al, 1 (CR0.PE)
    a.emit([0x0F, 0x22, 0xC0])                      # mov cr0, eax
    a.emit([0x66, 0xEA])                            # o32 jmp far ptr16:32
    a.abs32('start32')
    a.emit([0x08, 0x00])                            #   selector 0x08: flat 32-bit code
    # --- 32-bit flat protected mode ---
    a.label('start32')
    a.emit([0xB8], u32(0x10))                       # mov eax, 0x10 (flat data selector)
    a.emit([0x8E, 0xD8])                            # mov ds, ax (8E /r, reg=DS)
    a.emit([0x8E, 0xC0])                            # mov es, ax
    a.emit([0x8E, 0xD0])                            # mov ss, ax
    a.emit([0xBC], u32(0x10000))                    # mov esp, 0x10000
    a.emit([0x31, 0xED])                            # xor ebp, ebp (checksum)
    a.emit([0x31, 0xF6])                            # xor esi, esi (count of INCs)
    a.emit([0xBF], u32(outer))                      # mov edi, R
    a.label('outer')
    a.emit([0x31, 0xC0])                            # xor eax, eax
    a.emit([0xBB], u32(EBX0))                       # mov ebx, 0x9E3779B9
    a.emit([0xB9], u32(inner))                      # mov ecx, M
    a.emit([0xBA], u32(EDX0))                       # mov edx, 0x12345678
    a.label('inner')
    a.emit([0x01, 0xD8])                            # add eax, ebx (01 /r, ModRM 11 011 000)
    a.emit([0x31, 0xCB])                            # xor ebx, ecx (31 /r, ModRM 11 001 011)
    a.emit([0x29, 0xC2])                            # sub edx, eax (29 /r, ModRM 11 000 010)
    a.emit([0x39, 0xD0])                            # cmp eax, edx (39 /r, ModRM 11 010 000)
    a.rel8([0x72], 'skip')                          # jb skip
    a.emit([0x46])                                  # inc esi
    a.label('skip')
    a.emit([0x49])                                  # dec ecx
    a.rel8([0x75], 'inner')                         # jnz inner
    a.emit([0x01, 0xC5])                            # add ebp, eax (01 /r, ModRM 11 000 101)
    a.emit([0x01, 0xD5])                            # add ebp, edx (01 /r, ModRM 11 010 101)
    a.emit([0x4F])                                  # dec edi
    a.rel8([0x75], 'outer')                         # jnz outer
    a.emit([0x89, 0xE8])                            # mov eax, ebp (89 /r, ModRM 11 101 000)
    a.rel32([0xE8], 'print_hex')                    # call print_hex
    a.emit([0xB0, 0x20])                            # mov al, ' '
    a.emit([0xE6, 0xE9])                            # out 0xE9, al
    a.emit([0x89, 0xF0])                            # mov eax, esi (89 /r, ModRM 11 110 000)
    a.rel32([0xE8], 'print_hex')                    # call print_hex
    a.emit([0xB0, 0x0A])                            # mov al, '\n'
    a.emit([0xE6, 0xE9])                            # out 0xE9, al
    a.emit([0xFA])                                  # cli
    a.label('halt')
    a.emit([0xF4])                                  # hlt
    a.rel8([0xEB], 'halt')                          # jmp halt (should the CPU ever wake)
    # print_hex: EAX as 8 hex digits on port 0xE9; clobbers EAX, ECX, EDX.
    a.label('print_hex')
    a.emit([0x89, 0xC2])                            # mov edx, eax (89 /r, ModRM 11 000 010)
    a.emit([0xB9], u32(8))                          # mov ecx, 8
    a.label('digit')
    a.emit([0xC1, 0xC2, 0x04])                      # rol edx, 4 (C1 /0 ib)
    a.emit([0x89, 0xD0])                            # mov eax, edx (89 /r, ModRM 11 010 000)
    a.emit([0x83, 0xE0, 0x0F])                      # and eax, 0xF (83 /4 ib)
    a.emit([0x8A, 0x80])                            # mov al, [eax + disp32] (8A /r, ModRM 10 000 000)
    a.abs32('hexdigits')
    a.emit([0xE6, 0xE9])                            # out 0xE9, al
    a.emit([0x49])                                  # dec ecx
    a.rel8([0x75], 'digit')                         # jnz digit
    a.emit([0xC3])                                  # ret
    a.label('hexdigits')
    a.emit(b'0123456789abcdef')
    a.align(8)
    a.label('gdt')
    a.emit([0] * 8)                                 # 0x00: null descriptor
    a.emit([0xFF, 0xFF, 0, 0, 0, 0x9A, 0xCF, 0])    # 0x08: code, base 0, 4 GiB, 32-bit, ring 0
    a.emit([0xFF, 0xFF, 0, 0, 0, 0x92, 0xCF, 0])    # 0x10: data, base 0, 4 GiB, writable
    a.label('gdtr')
    a.emit(struct.pack('<H', 3 * 8 - 1))            # GDT limit
    a.abs32('gdt')                                  # GDT base
    assert a.here() <= 0xFF0, 'code runs into the reset vector'
    a.code += bytes([0xF4] * (0xFF0 - a.here()))
    a.label('reset')                                # physical 0xFFFF0 / 0xFFFFFFF0
    a.emit([0xEA])                                  # jmp far F000:start16
    a.ip16('start16')
    a.emit([0x00, 0xF0])
    a.code += bytes([0xF4] * (ROM_SIZE - a.here()))
    a.resolve()
    return bytes(a.code)


def predict(outer, inner):
    """The ROM's output and the instructions it retires up to and including the final HLT."""
    eax, ebx, ecx, edx, incs = 0, EBX0, inner, EDX0, 0
    while True:
        eax = (eax + ebx) & MASK
        ebx ^= ecx
        edx = (edx - eax) & MASK
        if not eax < edx:  # jb skip not taken
            incs += 1
        ecx -= 1
        if ecx == 0:
            break
    ebp = outer * (eax + edx) & MASK
    esi = outer * incs & MASK
    text = '%08x %08x\n' % (ebp, esi)
    print_hex = 2 + 8 * 7 + 1
    instructions = (1                                  # far jmp at the reset vector
                    + 6 + 8                            # mode switch, set-up
                    + outer * (4 + 7 * inner + incs + 4)
                    + 2 * (2 + print_hex + 2) + 2)     # output, CLI, HLT
    return text, instructions


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('--out', default=os.path.join(root, 'target', 'bench', 'loop.bin'))
    ap.add_argument('--outer', type=int, default=50, help='outer passes R (50)')
    ap.add_argument('--inner', type=int, default=1_000_000,
                    help='inner iterations M per pass (1000000)')
    args = ap.parse_args()
    if not (1 <= args.outer <= MASK and 1 <= args.inner <= MASK):
        ap.error('--outer and --inner must be between 1 and 2^32-1')
    rom = assemble(args.outer, args.inner)
    text, instructions = predict(args.outer, args.inner)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'wb') as f:
        f.write(rom)
    with open(args.out + '.expected', 'w') as f:
        f.write(text)
    with open(args.out + '.instructions', 'w') as f:
        f.write('%d\n' % instructions)
    print('%s: %d x %d iterations, %d instructions, expected output %r'
          % (args.out, args.outer, args.inner, instructions, text))
    return 0


if __name__ == '__main__':
    sys.exit(main())
