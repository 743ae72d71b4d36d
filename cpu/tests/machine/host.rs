//! The host CPU as the oracle: x86_64 runs the same instructions natively.

use webx86_cpu::state::flag;

/// Runs the instruction template `$insn` on the host with RFLAGS loaded from `$flags` (a `u64`
/// variable) before it and stored back into `$flags` after it; further operands are passed to
/// `asm!` as they are (named ones first, explicit registers last). Use inside `unsafe`: the
/// instruction must touch only its operands and the flags (the stack is restored).
#[macro_export]
macro_rules! host_with_flags {
    ($flags:ident, $insn:expr $(, $($operands:tt)*)?) => {
        core::arch::asm!(
            "push {f}",
            "popfq",
            $insn,
            "pushfq",
            "pop {f}",
            f = inout(reg) $flags
            $(, $($operands)*)?
        )
    };
}

/// The arithmetic flags of `a - b` (`size` bytes) computed by the host CPU.
#[cfg(target_arch = "x86_64")]
pub fn host_cmp_flags(a: u32, b: u32, size: usize) -> u32 {
    let mut flags: u64 = 2;
    // SAFETY: CMP on registers between the flag capture, which restores the stack.
    unsafe {
        match size {
            1 => host_with_flags!(flags, "cmp {a:l}, {b:l}", a = in(reg) a, b = in(reg) b),
            2 => host_with_flags!(flags, "cmp {a:x}, {b:x}", a = in(reg) a, b = in(reg) b),
            _ => host_with_flags!(flags, "cmp {a:e}, {b:e}", a = in(reg) a, b = in(reg) b),
        }
    }
    flags as u32 & flag::ARITH
}

/// Whether the host is the AMD family 19h part whose undefined-flag behaviour the emulator
/// copies; elsewhere only the defined flags are compared.
pub fn host_matches_undefined_flags() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let leaf0 = core::arch::x86_64::__cpuid(0);
        let amd = leaf0.ebx == 0x6874_7541 && leaf0.edx == 0x6974_6E65 && leaf0.ecx == 0x444D_4163;
        let leaf1 = core::arch::x86_64::__cpuid(1);
        let family = ((leaf1.eax >> 8) & 0xF) + ((leaf1.eax >> 20) & 0xFF);
        amd && family >= 0x17
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Formats the arithmetic flags for failure messages (`OSZAPC`, `.` for a clear flag).
pub fn fl(f: u32) -> String {
    let names = [
        (flag::OF, 'O'),
        (flag::SF, 'S'),
        (flag::ZF, 'Z'),
        (flag::AF, 'A'),
        (flag::PF, 'P'),
        (flag::CF, 'C'),
    ];
    names
        .iter()
        .map(|&(bit, c)| if f & bit != 0 { c } else { '.' })
        .collect()
}

/// Whether the host is the emulator's reference hardware for implementation-specific results
/// (an AMD Zen-family part): the x87 transcendentals' rounding and the RCPPS/RSQRTPS tables
/// are modelled on it, so tests hold those bit-exact only there.
#[allow(dead_code)]
pub fn is_reference_hardware() -> bool {
    let leaf0 = core::arch::x86_64::__cpuid(0);
    let leaf1 = core::arch::x86_64::__cpuid(1);
    let (vendor, signature) = ([leaf0.ebx, leaf0.edx, leaf0.ecx], leaf1.eax);
    let amd = vendor == [0x6874_7541, 0x6974_6E65, 0x444D_4163]; // "AuthenticAMD"
    let family = ((signature >> 8) & 0xF) + ((signature >> 20) & 0xFF);
    amd && family >= 0x17
}
