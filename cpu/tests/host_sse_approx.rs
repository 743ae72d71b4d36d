//! RCPPS/RCPSS/RSQRTPS/RSQRTSS: the approximation tables are implementation-specific (Intel
//! and AMD parts differ). The emulator uses its reference hardware's (AMD Zen family), so on
//! such a host every result must equal the host's bit for bit; on others, results are checked
//! against the SDM's bound (relative error ≤ 1.5 × 2^-12) while the special cases (zeros,
//! denormals, infinities, NaNs, negative operands of RSQRT, tiny results) must equal the
//! host's. MXCSR is never changed.
#![cfg(target_arch = "x86_64")]

mod machine;

use machine::simd::*;

host_fn!(host_rcpps, "rcpps xmm0, xmm1");
host_fn!(host_rsqrtps, "rsqrtps xmm0, xmm1");

fn lanes(v: [u64; 2]) -> [u32; 4] {
    [
        v[0] as u32,
        (v[0] >> 32) as u32,
        v[1] as u32,
        (v[1] >> 32) as u32,
    ]
}

#[test]
fn approximations_are_within_bounds_and_specials_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(7);
    let bit_exact = machine::host::is_reference_hardware();
    for (code, host, sqrt) in [
        (&[0x0F, 0x53, 0xC1][..], host_rcpps as fn(&mut Regs), false),
        (&[0x0F, 0x52, 0xC1][..], host_rsqrtps, true),
    ] {
        for _ in 0..5000 {
            let regs = Regs {
                x0: [rng.next_u64(), rng.next_u64()],
                x1: rng.vec(false),
                mxcsr: rng.mxcsr(),
                ..Regs::default()
            };
            let mut want = regs;
            host(&mut want);
            let got = m.run(code, &regs);
            assert_eq!(got.mxcsr, regs.mxcsr, "MXCSR changed");
            for ((x, w), g) in lanes(regs.x1)
                .into_iter()
                .zip(lanes(want.x0))
                .zip(lanes(got.x0))
            {
                if bit_exact {
                    assert_eq!(g, w, "{} of {x:#010x}", if sqrt { "rsqrt" } else { "rcp" });
                    continue;
                }
                let xf = f32::from_bits(x);
                let (wf, gf) = (f32::from_bits(w), f32::from_bits(g));
                let finite_result = wf.is_finite() && wf != 0.0 && gf.is_finite() && gf != 0.0;
                if !finite_result {
                    // A special case, or a result so close to the range limits that the
                    // implementations flush differently.
                    let near_limit =
                        (xf.abs() > 2f32.powi(125) && !sqrt) || xf.abs() < 2f32.powi(-125);
                    if !near_limit || xf.is_nan() || xf == 0.0 || xf.is_infinite() {
                        assert_eq!(g, w, "{} of {x:#010x}", if sqrt { "rsqrt" } else { "rcp" });
                    }
                    continue;
                }
                let exact = if sqrt {
                    1.0 / f64::from(xf).sqrt()
                } else {
                    1.0 / f64::from(xf)
                };
                let err = ((f64::from(gf) - exact) / exact).abs();
                assert!(
                    err <= 1.5 * 2f64.powi(-12),
                    "{x:#010x}: {gf} vs {exact} (error {err})"
                );
            }
        }
    }
}
