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
import sys

from romasm import (FLAT32_ENTRY_INSTRUCTIONS, HALT_INSTRUCTIONS, MASK, PRINT_HEX_INSTRUCTIONS,
                    Assembler, finish, flat32_entry, u32, write_rom)

EBX0 = 0x9E3779B9
EDX0 = 0x12345678


def assemble(outer, inner):
    a = Assembler()
    flat32_entry(a)
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
    return finish(a)                                # falls into halt: CLI; HLT


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
    instructions = (FLAT32_ENTRY_INSTRUCTIONS + 3
                    + outer * (4 + 7 * inner + incs + 4)
                    + 2 * (2 + PRINT_HEX_INSTRUCTIONS + 2) + HALT_INSTRUCTIONS)
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
    write_rom(args.out, rom, text, instructions)
    print('%s: %d x %d iterations, %d instructions, expected output %r'
          % (args.out, args.outer, args.inner, instructions, text))
    return 0


if __name__ == '__main__':
    sys.exit(main())
