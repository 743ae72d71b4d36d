"""The frame shared by the benchmark ROM generators: a tiny assembler (bytes, labels, fix-ups)
and the hand-assembled pieces every benchmark ROM has around its workload.

A benchmark ROM is 4 KiB, mapped by `webx86 rom` so that its last byte is at physical 0xFFFFF
(and 0xFFFFFFFF). Its layout, in emission order:
  flat32_entry   from the reset vector: CLI, LGDT, CR0.PE, far jump into a flat 32-bit code
                 segment, flat data segments, ESP = 0x10000  (FLAT32_ENTRY_INSTRUCTIONS)
  ...            the workload, which ends by printing with `print_hex` and calling `halt`
  halt           CLI; HLT (so `webx86 rom` exits 0)
  print_hex      EAX as 8 lower-case hex digits on port 0xE9 (PRINT_HEX_INSTRUCTIONS, RET included)
  constants      the workload's read-only data, each item 8-byte aligned
  gdt, gdtr      null, flat code (0x08), flat data (0x10)
  reset vector   at 0xFF0: jmp far F000:start16
"""
import os
import struct

ROM_SIZE = 0x1000
# The ROM is mapped so its last byte is at physical 0xFFFFF (and 0xFFFFFFFF).
ROM_BASE = 0x100000 - ROM_SIZE
# Real-mode CS is F000 at reset, so file offset o is IP 0xF000 + (ROM_BASE - 0xF0000) + o.
REAL_IP_BASE = ROM_BASE - 0xF0000
MASK = 0xFFFFFFFF

# The far jump at the reset vector, then `flat32_entry`'s 6 real-mode and 5 protected-mode
# instructions.
FLAT32_ENTRY_INSTRUCTIONS = 1 + 6 + 5
# `print_hex` from its first instruction to its RET: 2 + 8 digits x 7 + 1.
PRINT_HEX_INSTRUCTIONS = 2 + 8 * 7 + 1
# `halt`: CLI, HLT.
HALT_INSTRUCTIONS = 2


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


def flat32_entry(a):
    """From the reset vector into 32-bit flat protected mode with a stack below 0x10000."""
    a.label('start16')
    # --- 16-bit real mode, entered from the reset vector ---
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


def finish(a, constants=()):
    """`halt`, `print_hex`, the workload's read-only `constants` ((label, bytes) pairs, each
    8-byte aligned), the GDT and the reset vector; returns the 4 KiB image."""
    a.label('halt')
    a.emit([0xFA])                                  # cli
    a.label('hlt')
    a.emit([0xF4])                                  # hlt
    a.rel8([0xEB], 'hlt')                           # jmp hlt (should the CPU ever wake)
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
    for name, data in constants:
        a.label(name)
        a.emit(data)
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


def write_rom(out, rom, text, instructions):
    """Writes the image, OUT.expected (what it prints) and OUT.instructions (what it retires)."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'wb') as f:
        f.write(rom)
    with open(out + '.expected', 'w') as f:
        f.write(text)
    with open(out + '.instructions', 'w') as f:
        f.write('%d\n' % instructions)
