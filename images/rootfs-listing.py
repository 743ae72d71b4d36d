#!/usr/bin/env python3
"""List a root file tree for reproducibility checks, and measure it for sizing its ext2 image.

Usage: rootfs-listing.py ROOTDIR LISTING
Writes LISTING: one line per entry, sorted by path: type, octal mode, uid, gid, size, then the
SHA-256 of a regular file's content, a symlink's target or a device's numbers, then the path.
Times are left out on purpose: the image normalizes them (see ext2-normalize-times.py).
Two builds from the same package set must give identical listings.

Prints "BLOCKS INODES" on stdout: the 4 KiB blocks the tree needs in ext2 (data, directories,
long symlinks, indirect blocks; no metadata overhead) and its number of inodes.
"""

import hashlib
import os
import stat
import sys

BLOCK = 4096
# Block pointers in one indirect block, and the number of direct pointers in an inode.
POINTERS_PER_BLOCK = BLOCK // 4
DIRECT = 12


def data_blocks(size: int) -> int:
    """Blocks for `size` bytes of data plus the indirect blocks that address them."""
    blocks = -(-size // BLOCK)
    extra = 0
    beyond = blocks - DIRECT
    if beyond > 0:
        extra += 1  # single indirect
        beyond -= POINTERS_PER_BLOCK
    if beyond > 0:
        extra += 1 + -(-beyond // POINTERS_PER_BLOCK)  # double indirect
    return blocks + extra


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: rootfs-listing.py ROOTDIR LISTING")
    root, listing_path = sys.argv[1], sys.argv[2]
    lines = []
    blocks = 0
    seen_inodes = set()
    for dirpath, dirnames, filenames in os.walk(root):
        entries = [os.path.join(dirpath, n) for n in dirnames + filenames]
        if dirpath == root:
            entries.append(root)
        for path in entries:
            st = os.lstat(path)
            rel = "/" + os.path.relpath(path, root) if path != root else "/"
            mode = st.st_mode
            if stat.S_ISREG(mode):
                kind, size = "f", st.st_size
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                detail = h.hexdigest()
                if (st.st_dev, st.st_ino) not in seen_inodes:
                    seen_inodes.add((st.st_dev, st.st_ino))
                    blocks += data_blocks(size)
            elif stat.S_ISDIR(mode):
                kind, size, detail = "d", 0, "-"
                seen_inodes.add((st.st_dev, st.st_ino))
                # A directory entry takes 8 bytes plus the name rounded up to 4.
                names = os.listdir(path)
                dir_bytes = 24 + sum(8 + (len(os.fsencode(n)) + 3) // 4 * 4 for n in names)
                blocks += data_blocks(dir_bytes)
            elif stat.S_ISLNK(mode):
                target = os.readlink(path)
                kind, size, detail = "l", len(os.fsencode(target)), target
                seen_inodes.add((st.st_dev, st.st_ino))
                if size >= 60:  # shorter targets live in the inode itself
                    blocks += 1
            else:
                kind = {stat.S_IFCHR: "c", stat.S_IFBLK: "b", stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}.get(
                    stat.S_IFMT(mode), "?"
                )
                size = 0
                detail = f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
                seen_inodes.add((st.st_dev, st.st_ino))
            lines.append(
                (rel, f"{kind} {stat.S_IMODE(mode):04o} {st.st_uid} {st.st_gid} {size} {detail} {rel}\n")
            )
    lines.sort()
    with open(listing_path, "w") as out:
        out.writelines(line for _, line in lines)
    print(blocks, len(seen_inodes))


if __name__ == "__main__":
    main()
