#!/usr/bin/env python3
"""Give every inode of an ext2 image fixed timestamps, so the image depends only on its file tree.

`mke2fs -d DIR` copies each file's atime, mtime and ctime from the build host. mtime comes from
the packages (or is clamped to SOURCE_DATE_EPOCH by the build), but atime changes whenever the
build reads a file and ctime can't be set at all on the host. This rewrites, in every in-use inode:
mtime := min(mtime, SOURCE_DATE_EPOCH); atime, ctime and crtime := that mtime; the sub-second
"extra" fields := 0.

Only plain ext2/ext3 layouts are accepted: no metadata checksums (which this would invalidate)
and no 64-bit group descriptors. Usage: ext2-normalize-times.py IMAGE SOURCE_DATE_EPOCH
"""

import struct
import sys

SUPERBLOCK_OFFSET = 1024
EXT2_MAGIC = 0xEF53
RO_COMPAT_GDT_CSUM = 0x0010
RO_COMPAT_METADATA_CSUM = 0x0400
INCOMPAT_64BIT = 0x0080
GROUP_DESC_SIZE = 32
# Inode field offsets (the ext4 on-disk inode; ext2 uses the first 128 bytes plus the same extra area).
I_ATIME, I_CTIME, I_MTIME = 8, 12, 16
I_EXTRA_ISIZE = 128
I_CTIME_EXTRA, I_MTIME_EXTRA, I_ATIME_EXTRA, I_CRTIME, I_CRTIME_EXTRA = 132, 136, 140, 144, 148


def normalize(path: str, epoch: int) -> int:
    """Rewrites the times in place; returns how many inodes were changed."""
    changed = 0
    with open(path, "r+b") as image:
        image.seek(SUPERBLOCK_OFFSET)
        sb = image.read(1024)
        (magic,) = struct.unpack_from("<H", sb, 56)
        if magic != EXT2_MAGIC:
            raise SystemExit(f"{path}: not an ext2 file system (magic {magic:#x})")
        inodes_count, blocks_count = struct.unpack_from("<II", sb, 0)
        first_data_block, log_block_size = struct.unpack_from("<II", sb, 20)
        blocks_per_group, _, inodes_per_group = struct.unpack_from("<III", sb, 32)
        (rev_level,) = struct.unpack_from("<I", sb, 76)
        inode_size = struct.unpack_from("<H", sb, 88)[0] if rev_level >= 1 else 128
        incompat, ro_compat = struct.unpack_from("<II", sb, 96)
        if ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM):
            raise SystemExit(f"{path}: has metadata checksums; refusing to edit inodes")
        if incompat & INCOMPAT_64BIT:
            raise SystemExit(f"{path}: has 64-bit group descriptors; not supported")
        block_size = 1024 << log_block_size
        groups = (blocks_count - first_data_block + blocks_per_group - 1) // blocks_per_group
        image.seek((first_data_block + 1) * block_size)
        descs = image.read(groups * GROUP_DESC_SIZE)
        for group in range(groups):
            _, inode_bitmap, inode_table = struct.unpack_from("<III", descs, group * GROUP_DESC_SIZE)
            image.seek(inode_bitmap * block_size)
            bitmap = image.read((inodes_per_group + 7) // 8)
            image.seek(inode_table * block_size)
            table = bytearray(image.read(inodes_per_group * inode_size))
            dirty = False
            for index in range(inodes_per_group):
                if group * inodes_per_group + index >= inodes_count:
                    break
                if not bitmap[index // 8] & (1 << (index % 8)):
                    continue
                at = index * inode_size
                before = bytes(table[at : at + inode_size])
                mtime = min(struct.unpack_from("<I", table, at + I_MTIME)[0], epoch)
                struct.pack_into("<III", table, at + I_ATIME, mtime, mtime, mtime)
                if inode_size > 128:
                    (extra,) = struct.unpack_from("<H", table, at + I_EXTRA_ISIZE)
                    if extra >= I_CRTIME - I_EXTRA_ISIZE:
                        struct.pack_into("<III", table, at + I_CTIME_EXTRA, 0, 0, 0)
                    if extra >= I_CRTIME_EXTRA + 4 - I_EXTRA_ISIZE:
                        struct.pack_into("<II", table, at + I_CRTIME, mtime, 0)
                if table[at : at + inode_size] != before:
                    changed += 1
                    dirty = True
            if dirty:
                image.seek(inode_table * block_size)
                image.write(table)
    return changed


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: ext2-normalize-times.py IMAGE SOURCE_DATE_EPOCH")
    changed = normalize(sys.argv[1], int(sys.argv[2]))
    print(f"{sys.argv[1]}: normalized the times of {changed} inodes")


if __name__ == "__main__":
    main()
