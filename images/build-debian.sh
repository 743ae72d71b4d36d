#!/usr/bin/env bash
# Builds webx86's default guest: Debian bookworm i386 (stock linux-image-686 and its initramfs,
# systemd, autologin as root on hvc0 and ttyS0) as an ext2 disk image, then packs it into the CDN
# layout (manifest.json + chunks named by SHA-256) with `webx86 image pack`.
#
# Usage: images/build-debian.sh [--small] [--force] [--no-pack]
#   --small    the CI variant: same userland, but only the kernel modules a virtio guest can use
#   --force    rebuild every step even if its output is up to date
#   --no-pack  stop after the image, kernel and initrd (no webx86 binary needed)
# Environment:
#   WEBX86_GUEST_DIR   where to build (default: target/guest in the repository)
#   WEBX86             the webx86 binary to pack with (default: target/release/webx86, else
#                      target/debug/webx86, else cargo build --release)
#   DEBIAN_MIRROR      Debian mirror (default http://deb.debian.org/debian)
#   DEBIAN_SECURITY    yes, no or auto (default): use bookworm-security; auto goes on without it
#                      when the build fails with it (e.g. a mirror caught mid-sync)
#   SOURCE_DATE_EPOCH  timestamp for every file newer than it (default fixed below)
#
# Outputs (VARIANT = debian or debian-small):
#   $WEBX86_GUEST_DIR/VARIANT/          the CDN layout: manifest.json and chunks (serve as is)
#   $WEBX86_GUEST_DIR/VARIANT.build/    root.ext2, vmlinuz, initrd.img, cmdline, packages.txt,
#                                       rootfs.list (file tree listing), rootfs/ (the tree itself)
#
# Each step records a stamp (a hash of everything it depends on) and is skipped while its output
# and stamp are current, so running the script again does nothing. Needs root: mmdebstrap installs
# packages in a chroot (maintainer scripts run there), and mke2fs -d copies owners from the tree.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
images=$repo/images
started=$SECONDS

log() { printf '[build-debian %4ds] %s\n' $((SECONDS - started)) "$*" >&2; }
die() {
    printf 'build-debian.sh: error: %s\n' "$*" >&2
    exit 1
}

small=0 force=0 pack=1
for arg in "$@"; do
    case $arg in
    --small) small=1 ;;
    --force) force=1 ;;
    --no-pack) pack=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$arg' (see --help)" ;;
    esac
done

# --- What the guest is made of ------------------------------------------------------------------

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Use the security suite: yes, no, or auto (try it; without it if the build fails with it).
security=${DEBIAN_SECURITY:-auto}
[[ $security == @(yes|no|auto) ]] || die "DEBIAN_SECURITY must be yes, no or auto, not '$security'"
# 2026-01-01 00:00 UTC. Files newer than this (those written by maintainer scripts at build time)
# get this time; files from the packages keep theirs.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
# Fixed file system identity, so the same tree gives the same image.
fs_uuid=7bf9a8a9-9702-4e41-8994-7364dca88142
fs_hash_seed=0cbf6689-ee5f-41a5-923c-b07f1df9cc52
fs_label='webx86-root'
# Free space for the guest's own writes, on top of what the tree uses.
headroom_mib=256
# Inodes for the guest's new files, on top of those the tree uses.
headroom_inodes=32768

# minbase = Essential + Priority: required (apt, dpkg, bash, coreutils, util-linux, login, passwd,
# e2fsprogs, tzdata, ...). Recommends are not installed.
packages=(
    linux-image-686  # the stock kernel (6.1, non-PAE)
    initramfs-tools  # its initramfs, built in the chroot
    xz-utils         # initramfs compression (COMPRESS=xz: webx86 unpacks it on the host)
    systemd systemd-sysv udev
    dbus             # systemd-logind needs the system bus
    kmod procps less nano python3-minimal iproute2
)

# Kernel command line (each word explained in images/README.md).
cmdline="root=/dev/vda rw console=hvc0 console=ttyS0 acpi=off nolapic pci=nomsi"
cmdline+=" cryptomgr.notests noisapnp mitigations=off tsc=reliable i8042.noaux"

# Documentation and translations are dropped (for this build and for packages the guest installs
# later: mmdebstrap keeps these dpkg options in /etc/dpkg/dpkg.cfg.d/99mmdebstrap). Copyright
# files stay: the image is redistributed.
dpkg_opts=(
    path-exclude=/usr/share/man/*
    path-exclude=/usr/share/info/*
    path-exclude=/usr/share/doc/*
    path-include=/usr/share/doc/*/copyright
    path-exclude=/usr/share/locale/*
    path-include=/usr/share/locale/locale.alias
    path-exclude=/usr/share/lintian/*
    path-exclude=/usr/share/bug/*
)
variant=debian
if ((small)); then
    variant=debian-small
    # The CI variant keeps the modules a guest on virtio and a PC chipset can load and drops the
    # rest (graphics, sound, wireless, media, InfiniBand, USB devices, ...): a third of the tree.
    # The kernel and initrd are the same as the full variant's (drivers/input stays: the initrd
    # takes psmouse from it).
    for dir in drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/infiniband \
        drivers/staging drivers/usb drivers/hid drivers/scsi drivers/iio drivers/isdn \
        drivers/bluetooth drivers/mtd drivers/hwmon drivers/misc drivers/platform drivers/video \
        sound net/wireless net/mac80211 net/bluetooth; do
        dpkg_opts+=("path-exclude=/lib/modules/*/kernel/$dir/*" "path-exclude=/usr/lib/modules/*/kernel/$dir/*")
    done
fi

guest_dir=${WEBX86_GUEST_DIR:-$repo/target/guest}
build=$guest_dir/$variant.build
cdn=$guest_dir/$variant
rootfs=$build/rootfs

# --- Checks -----------------------------------------------------------------------------------

[[ $(id -u) == 0 ]] || die "must run as root (mmdebstrap installs packages in a chroot and mke2fs -d copies file owners); try: sudo $0 $*"

# Tool -> Debian package that provides it.
declare -A tool_packages=(
    [mmdebstrap]=mmdebstrap [mke2fs]=e2fsprogs [e2fsck]=e2fsprogs [python3]=python3-minimal
    [sha256sum]=coreutils [chroot]=coreutils
)
missing=()
for tool in "${!tool_packages[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${tool_packages[$tool]}")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null 2>&1 ||
        die "missing build tools and no apt-get to install them: ${missing[*]}"
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing build tools: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null || log "apt-get update reported errors; trying the install anyway"
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
        die "could not install ${missing[*]} with apt-get"
fi
# The chroot runs i386 binaries: the host kernel must run 32-bit programs.
[[ $(uname -m) == i?86 || $(uname -m) == x86_64 ]] ||
    die "the build runs i386 programs in a chroot; this host is $(uname -m)"

mkdir -p "$build"

# Hash of the given strings and files: the stamp of a step.
stamp_of() { printf '%s\n' "$@" | sha256sum | cut -c1-64; }
files_hash() { (cd "$images" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-64; }
up_to_date() { ((!force)) && [[ -f $1 && $(cat "$1") == "$2" ]]; }

# --- Step 1: the root file tree (mmdebstrap) ---------------------------------------------------

rootfs_stamp=$(stamp_of "suite=$suite" "mirror=$mirror $security_mirror" "epoch=$SOURCE_DATE_EPOCH" \
    "packages=${packages[*]}" "dpkg=${dpkg_opts[*]}" \
    "files=$(files_hash debian)" "step1=v1")
if up_to_date "$build/rootfs.stamp" "$rootfs_stamp" && [[ -d $rootfs ]]; then
    log "root file tree is up to date: $rootfs"
else
    rm -f "$build/rootfs.stamp" "$build/image.stamp" "$build/pack.stamp"
    if [[ -d $rootfs ]]; then
        log "removing the out-of-date root file tree"
        rm -rf "$rootfs"
    fi
    log "building the root file tree with mmdebstrap ($suite i386, ${#packages[@]} packages + minbase)"
    mm_args=(
        --mode=root --variant=minbase --architectures=i386
        --include="$(IFS=,; echo "${packages[*]}")"
        --aptopt='APT::Install-Recommends "false"'
        --aptopt='Acquire::Retries "3"'
        # The merged-/usr layout made by mmdebstrap itself, instead of installing usrmerge (and perl).
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
        --customize-hook="\"$images/debian/customize.sh\" \"\$1\""
    )
    for opt in "${dpkg_opts[@]}"; do mm_args+=(--dpkgopt="$opt"); done
    sources=("deb $mirror $suite main" "deb $mirror $suite-updates main")
    security_source="deb $security_mirror $suite-security main"
    if [[ $security == no ]] || ! mmdebstrap "${mm_args[@]}" "$suite" "$rootfs" "${sources[@]}" "$security_source" </dev/null; then
        if [[ $security == yes ]]; then
            die "mmdebstrap failed (see its messages above)"
        fi
        if [[ $security == auto ]]; then
            # A mirror caught mid-sync (an index whose size does not match its Release file) fails
            # apt-get update; the security suite is the one that syncs most often.
            log "WARNING: mmdebstrap failed with $suite-security; building from $suite and $suite-updates only"
        fi
        rm -rf "$rootfs"
        mmdebstrap "${mm_args[@]}" "$suite" "$rootfs" "${sources[@]}" </dev/null ||
            die "mmdebstrap failed (see its messages above)"
        security_source="# $security_source (not used: see the build log)"
    fi
    printf '%s\n' "${sources[@]}" "$security_source" >"$build/sources.list"

    log "clamping file times to SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
    find "$rootfs" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"

    # shellcheck disable=SC2016 # ${Package} etc. are dpkg-query's fields
    chroot "$rootfs" dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' | sort >"$build/packages.txt"
    echo "$rootfs_stamp" >"$build/rootfs.stamp"
    log "root file tree done: $(wc -l <"$build/packages.txt") packages"
fi

# --- Step 2: ext2 image, kernel, initrd, command line -----------------------------------------

image=$build/root.ext2
image_stamp=$(stamp_of "$rootfs_stamp" "uuid=$fs_uuid seed=$fs_hash_seed label=$fs_label" \
    "headroom=$headroom_mib $headroom_inodes" "cmdline=$cmdline" \
    "tools=$(files_hash rootfs-listing.py ext2-normalize-times.py)" "step2=v1")
if up_to_date "$build/image.stamp" "$image_stamp" && [[ -f $image ]]; then
    log "image is up to date: $image"
else
    rm -f "$build/image.stamp" "$build/pack.stamp"
    log "listing the tree (rootfs.list) and measuring it"
    read -r tree_blocks tree_inodes < <(python3 "$images/rootfs-listing.py" "$rootfs" "$build/rootfs.list.tmp")
    mv "$build/rootfs.list.tmp" "$build/rootfs.list"
    # Data + 3% for ext2 metadata (bitmaps, group descriptors, reserved GDT blocks) + the headroom,
    # rounded up to 4 MiB; inode tables come on top (256 bytes per inode).
    inodes=$((tree_inodes + headroom_inodes))
    size_mib=$(((tree_blocks * 4096 * 103 / 100 + inodes * 256) / 1048576 + headroom_mib))
    size_mib=$(((size_mib + 3) / 4 * 4))
    log "tree: $((tree_blocks * 4 / 1024)) MiB in $tree_inodes inodes; image: $size_mib MiB, $inodes inodes"

    kernel_src=$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n1)
    [[ -n $kernel_src ]] || die "no kernel in $rootfs/boot"
    version=${kernel_src##*/vmlinuz-}
    [[ -f $rootfs/boot/initrd.img-$version ]] || die "no initrd for kernel $version in $rootfs/boot"
    cp "$kernel_src" "$build/vmlinuz.tmp" && mv "$build/vmlinuz.tmp" "$build/vmlinuz"
    cp "$rootfs/boot/initrd.img-$version" "$build/initrd.img.tmp" && mv "$build/initrd.img.tmp" "$build/initrd.img"
    echo "$version" >"$build/kernel-version"
    echo "$cmdline" >"$build/cmdline"

    log "making the ext2 image with mke2fs -d"
    rm -f "$image.tmp"
    # E2FSPROGS_FAKE_TIME: the superblock's and root directory's times (mke2fs's own clock).
    E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -F -t ext2 -b 4096 -I 256 -N "$inodes" -m 0 \
        -L "$fs_label" -U "$fs_uuid" -E "hash_seed=$fs_hash_seed,root_owner=0:0" \
        -d "$rootfs" "$image.tmp" "${size_mib}M" ||
        die "mke2fs failed"
    python3 "$images/ext2-normalize-times.py" "$image.tmp" "$SOURCE_DATE_EPOCH" >&2
    e2fsck -fn "$image.tmp" >"$build/e2fsck.log" 2>&1 ||
        die "e2fsck found problems in the new image (see $build/e2fsck.log)"
    mv "$image.tmp" "$image"
    echo "$image_stamp" >"$build/image.stamp"
    log "image done: $image ($(du -h --apparent-size "$image" | cut -f1), $(du -h "$image" | cut -f1) allocated), kernel $version"
fi

# --- Step 3: the CDN layout (webx86 image pack) -----------------------------------------------

if ((!pack)); then
    log "done (--no-pack): $build"
    exit 0
fi
webx86=${WEBX86:-}
if [[ -z $webx86 ]]; then
    webx86=$repo/target/release/webx86
    [[ ! -x $webx86 && -x $repo/target/debug/webx86 ]] && webx86=$repo/target/debug/webx86
fi
if [[ ! -x $webx86 ]]; then
    webx86=$repo/target/release/webx86
    command -v cargo >/dev/null 2>&1 || die "no webx86 binary at $webx86 and no cargo to build it (set WEBX86=, or use --no-pack)"
    log "building webx86 (cargo build --release) to pack the image"
    (cd "$repo" && cargo build --release --quiet --bin webx86) || die "cargo build failed"
fi
"$webx86" image pack --help >/dev/null 2>&1 ||
    die "$webx86 has no 'image pack' subcommand (it comes with the disk crate); use --no-pack"

pack_stamp=$(stamp_of "$image_stamp" "step3=v1")
if up_to_date "$build/pack.stamp" "$pack_stamp" && [[ -f $cdn/manifest.json ]]; then
    log "CDN layout is up to date: $cdn"
else
    rm -f "$build/pack.stamp"
    log "packing into the CDN layout with webx86 image pack"
    rm -rf "$cdn.new"
    "$webx86" image pack "$image" "$cdn.new" --kernel "$build/vmlinuz" --initrd "$build/initrd.img" \
        --append "$cmdline" >&2 || die "webx86 image pack failed"
    # Swap in the new layout whole, so chunks of an older image do not linger.
    rm -rf "$cdn.old"
    [[ -d $cdn ]] && mv "$cdn" "$cdn.old"
    mv "$cdn.new" "$cdn"
    rm -rf "$cdn.old"
    echo "$pack_stamp" >"$build/pack.stamp"
fi
log "done: $cdn/manifest.json ($(find "$cdn" -type f | wc -l) files, $(du -sh "$cdn" | cut -f1))"
