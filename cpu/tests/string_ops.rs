//! String instructions: element semantics against a byte-array model (including overlapping
//! REP MOVS, which the bulk path must not get wrong), flags against the host CPU, 16-bit
//! addressing, segment overrides, chunking of long REPs, and faults in the middle of a REP.

mod flow_harness;

use flow_harness::{data_segment, Machine, Rng, CODE};
use webx86_cpu::fault::vector;
use webx86_cpu::state::{flag, reg, sreg};
use webx86_cpu::Fault;

/// Region of RAM the random tests work in.
const AREA: u32 = 0x10_0000;
const AREA_LEN: usize = 0x6000;

/// One REP MOVS or REP STOS, for the model.
#[derive(Clone, Copy)]
struct RepOp {
    movs: bool,
    size: u32,
    down: bool,
    count: u32,
    eax: u32,
}

/// Element-by-element REP MOVS / STOS on `mem` (indexes are offsets into the area).
fn model_rep(op: RepOp, mem: &mut [u8], esi: &mut u32, edi: &mut u32) {
    let RepOp {
        movs,
        size,
        down,
        count,
        eax,
    } = op;
    let step = if down { size.wrapping_neg() } else { size };
    for _ in 0..count {
        let value: Vec<u8> = if movs {
            mem[*esi as usize..(*esi + size) as usize].to_vec()
        } else {
            eax.to_le_bytes()[..size as usize].to_vec()
        };
        mem[*edi as usize..(*edi + size) as usize].copy_from_slice(&value);
        if movs {
            *esi = esi.wrapping_add(step);
        }
        *edi = edi.wrapping_add(step);
    }
}

fn rep_code(movs: bool, size: u32) -> Vec<u8> {
    let mut code = vec![0xF3];
    if size == 2 {
        code.insert(0, 0x66);
    }
    code.push(match (movs, size) {
        (true, 1) => 0xA4,
        (true, _) => 0xA5,
        (false, 1) => 0xAA,
        (false, _) => 0xAB,
    });
    code
}

#[test]
fn rep_movs_and_stos_match_element_semantics() {
    let mut rng = Rng(0x1234_5678);
    for round in 0..160 {
        let movs = round % 3 != 0;
        let size = [1u32, 2, 4][(rng.next() % 3) as usize];
        let down = rng.next() % 2 == 1;
        let count = rng.next() % (0x1800 / size) + 1;
        let span = count * size;
        // Start addresses that keep the whole run inside the area.
        let pick = |rng: &mut Rng| {
            let free = AREA_LEN as u32 - span - 8;
            let low = rng.next() % free + 4;
            if down {
                low + span - size
            } else {
                low
            }
        };
        let esi = pick(&mut rng);
        let mut edi = if rng.next().is_multiple_of(2) {
            // Near the source, to exercise every kind of overlap.
            let delta = (rng.next() % 16) as i32 - 8;
            let cand = (esi as i32 + delta) as u32;
            if cand >= 4 && cand + span + 4 < AREA_LEN as u32 && (!down || cand >= span) {
                cand
            } else {
                pick(&mut rng)
            }
        } else {
            pick(&mut rng)
        };
        if down && edi + 1 < span {
            edi = pick(&mut rng);
        }
        let eax = rng.next();
        let mut mem: Vec<u8> = (0..AREA_LEN).map(|_| rng.next() as u8).collect();

        let mut m = Machine::flat32();
        m.write_bytes(AREA, &mem);
        m.set(reg::ESI, AREA + esi);
        m.set(reg::EDI, AREA + edi);
        m.set(reg::ECX, count);
        m.set(reg::EAX, eax);
        if down {
            m.cpu.state.eflags |= flag::DF;
        }
        let (result, _) = m.step_rep(&rep_code(movs, size));
        result.unwrap();

        let (mut s, mut d) = (esi, edi);
        model_rep(
            RepOp {
                movs,
                size,
                down,
                count,
                eax,
            },
            &mut mem,
            &mut s,
            &mut d,
        );
        let what = format!("round {round} movs={movs} size={size} down={down} count={count} esi={esi:#x} edi={edi:#x}");
        assert_eq!(m.read_bytes(AREA, AREA_LEN), mem, "memory, {what}");
        assert_eq!(m.reg(reg::ECX), 0, "{what}");
        assert_eq!(m.reg(reg::EDI), AREA.wrapping_add(d), "{what}");
        if movs {
            assert_eq!(m.reg(reg::ESI), AREA.wrapping_add(s), "{what}");
        }
    }
}

#[test]
fn single_string_ops_all_sizes_and_directions() {
    for &down in &[false, true] {
        for &(size, prefix) in &[(1u32, None), (2, Some(0x66u8)), (4, None)] {
            let mut m = Machine::flat32();
            let code = |op: u8| {
                let mut c: Vec<u8> = prefix.into_iter().collect();
                c.push(op);
                c
            };
            let w = |op| if size == 1 { op } else { op + 1 };
            let step = if down { size.wrapping_neg() } else { size };
            if down {
                m.cpu.state.eflags |= flag::DF;
            }
            m.write32(0x2000, 0x8899_AABB);
            m.set(reg::ESI, 0x2000);
            m.set(reg::EDI, 0x3000);
            m.step(&code(w(0xA4))).unwrap(); // movs
            let mask = if size == 4 {
                u32::MAX
            } else {
                (1 << (8 * size)) - 1
            };
            assert_eq!(m.read32(0x3000) & mask, 0x8899_AABB & mask);
            assert_eq!(m.reg(reg::ESI), 0x2000u32.wrapping_add(step));
            assert_eq!(m.reg(reg::EDI), 0x3000u32.wrapping_add(step));
            m.rewind(CODE);
            m.set(reg::ESI, 0x2000);
            m.set(reg::EAX, 0);
            m.step(&code(w(0xAC))).unwrap(); // lods
            assert_eq!(m.reg(reg::EAX), 0x8899_AABB & mask);
            m.rewind(CODE);
            m.set(reg::EDI, 0x4000);
            m.set(reg::EAX, 0x1122_3344);
            m.step(&code(w(0xAA))).unwrap(); // stos
            assert_eq!(m.read32(0x4000) & mask, 0x1122_3344 & mask);
            assert_eq!(m.reg(reg::EDI), 0x4000u32.wrapping_add(step));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn cmps_and_scas_flags_match_host() {
    use flow_harness::host_cmp_flags;
    let mut rng = Rng(0xBADC_0FFE);
    for n in 0..600 {
        let size = [1u32, 2, 4][n % 3];
        let edge = [
            0u32,
            1,
            0x7F,
            0x80,
            0xFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            u32::MAX,
        ];
        let a = if n % 4 == 0 {
            edge[(rng.next() % 11) as usize]
        } else {
            rng.next()
        };
        let b = if n % 5 == 0 {
            a
        } else if n % 4 == 1 {
            edge[(rng.next() % 11) as usize]
        } else {
            rng.next()
        };
        let mut m = Machine::flat32();
        m.write32(0x2000, a);
        m.write32(0x3000, b);
        m.set(reg::ESI, 0x2000);
        m.set(reg::EDI, 0x3000);
        let mut code = if size == 2 { vec![0x66] } else { vec![] };
        code.push(if size == 1 { 0xA6 } else { 0xA7 });
        m.step(&code).unwrap();
        let mask = if size == 4 {
            u32::MAX
        } else {
            (1 << (8 * size)) - 1
        };
        let want = host_cmp_flags(a & mask, b & mask, size as usize);
        assert_eq!(
            m.cpu.state.flags() & flag::ARITH,
            want,
            "cmps{size} {a:#x} {b:#x}"
        );
        // SCAS compares the accumulator with ES:[EDI].
        m.rewind(CODE);
        m.set(reg::EAX, a);
        m.set(reg::EDI, 0x3000);
        let last = code.len() - 1;
        code[last] = if size == 1 { 0xAE } else { 0xAF };
        m.step(&code).unwrap();
        assert_eq!(
            m.cpu.state.flags() & flag::ARITH,
            want,
            "scas{size} {a:#x} {b:#x}"
        );
    }
}

#[test]
fn repe_cmps_stops_at_first_difference() {
    let mut m = Machine::flat32();
    m.write_bytes(0x2000, b"abcdefgh");
    m.write_bytes(0x3000, b"abcdXfgh");
    m.set(reg::ESI, 0x2000);
    m.set(reg::EDI, 0x3000);
    m.set(reg::ECX, 8);
    m.step(&[0xF3, 0xA6]).unwrap();
    assert_eq!(m.reg(reg::ECX), 3, "stopped after comparing the fifth byte");
    assert_eq!(m.reg(reg::ESI), 0x2005);
    assert!(!m.cpu.state.zf());
    assert!(!m.cpu.state.cf(), "0x65 - 0x58 borrows nothing");
    // Equal strings run to the end with ZF set.
    m.rewind(CODE);
    m.set(reg::ESI, 0x2000);
    m.set(reg::EDI, 0x2000);
    m.set(reg::ECX, 8);
    m.step(&[0xF3, 0xA6]).unwrap();
    assert_eq!(m.reg(reg::ECX), 0);
    assert!(m.cpu.state.zf());
}

#[test]
fn repne_scas_finds_byte() {
    let mut m = Machine::flat32();
    m.write_bytes(0x3000, b"hello, world\0");
    m.set(reg::EDI, 0x3000);
    m.set(reg::ECX, u32::MAX);
    m.set(reg::EAX, 0);
    m.step(&[0xF2, 0xAE]).unwrap();
    assert_eq!(m.reg(reg::EDI), 0x300D);
    assert_eq!(m.reg(reg::ECX), u32::MAX - 13);
    assert!(m.cpu.state.zf());
}

#[test]
fn rep_with_zero_count_does_nothing() {
    let mut m = Machine::flat32();
    m.cpu
        .state
        .set_arith_flags(flag::ARITH, flag::CF | flag::ZF);
    m.set(reg::ECX, 0);
    m.set(reg::EDI, 0x3000);
    m.write32(0x3000, 0x5555_5555);
    m.step(&[0xF3, 0xAB]).unwrap();
    m.rewind(CODE);
    m.step(&[0xF3, 0xA7]).unwrap();
    assert_eq!(m.read32(0x3000), 0x5555_5555);
    assert_eq!(m.reg(reg::EDI), 0x3000);
    assert_eq!(m.cpu.state.flags() & flag::ARITH, flag::CF | flag::ZF);
}

#[test]
fn addr16_uses_si_di_cx_and_wraps() {
    let mut m = Machine::flat32();
    m.set(reg::ESI, 0xABCD_FFFF);
    m.set(reg::EDI, 0x1234_0100);
    m.set(reg::ECX, 0x7777_0002);
    m.write_bytes(0xFFFF, &[0x5A]);
    m.write_bytes(0x0000, &[0xA5]);
    m.step(&[0x67, 0xF3, 0xA4]).unwrap(); // rep movsb, 16-bit addressing
    assert_eq!(m.read_bytes(0x100, 2), vec![0x5A, 0xA5]);
    assert_eq!(m.reg(reg::ESI), 0xABCD_0001, "SI wrapped, upper half kept");
    assert_eq!(m.reg(reg::EDI), 0x1234_0102);
    assert_eq!(m.reg(reg::ECX), 0x7777_0000);
}

#[test]
fn addr16_word_at_offset_ffff_faults() {
    let mut m = Machine::real();
    m.set(reg::ESI, 0xFFFF);
    m.set(reg::EDI, 0x100);
    assert_eq!(
        m.step(&[0xA5]),
        Err(Fault::GP0),
        "movsw straddling the 64 KiB limit"
    );
}

#[test]
fn source_segment_override_and_es_destination() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::FS as usize] = data_segment(0x30, 0x20_0000, 0xFFFF, true);
    m.cpu.state.segs[sreg::ES as usize] = data_segment(0x38, 0x30_0000, 0xFFFF, true);
    m.cpu.state.segs[sreg::DS as usize] = data_segment(0x40, 0x40_0000, 0xFFFF, true);
    m.write32(0x20_0010, 0xF5F5_F5F5);
    m.write32(0x40_0010, 0xD5D5_D5D5);
    m.set(reg::ESI, 0x10);
    m.set(reg::EDI, 0x20);
    m.step(&[0x64, 0xA5]).unwrap(); // movsd fs:[esi] → es:[edi]
    assert_eq!(m.read32(0x30_0020), 0xF5F5_F5F5);
    m.rewind(CODE);
    m.set(reg::ESI, 0x10);
    m.step(&[0x26, 0xAB]).unwrap(); // es stosd: the override does not move the destination
    m.rewind(CODE);
    m.step(&[0xAD]).unwrap(); // lodsd from DS
    assert_eq!(m.reg(reg::EAX), 0xD5D5_D5D5);
}

#[test]
fn long_rep_runs_in_chunks_and_completes() {
    let mut m = Machine::flat32();
    m.set(reg::EDI, 0x10_0000);
    m.set(reg::ECX, 300_000);
    m.set(reg::EAX, 0xC3);
    let first = m.step(&[0xF3, 0xAA]);
    assert_eq!(first, Ok(()));
    assert_eq!(
        m.cpu.state.eip, CODE,
        "unfinished: EIP back at the instruction"
    );
    assert!(m.reg(reg::ECX) > 0 && m.reg(reg::ECX) < 300_000);
    let (result, calls) = m.step_rep(&[0xF3, 0xAA]);
    result.unwrap();
    assert!(calls > 1);
    assert_eq!(m.reg(reg::ECX), 0);
    assert_eq!(m.reg(reg::EDI), 0x10_0000 + 300_000);
    assert!(m.read_bytes(0x10_0000, 300_000).iter().all(|&b| b == 0xC3));
    assert_eq!(m.cpu.state.eip, CODE + 2);
}

#[test]
fn rep_movs_page_fault_midway_resumes() {
    let mut m = Machine::flat32();
    m.enable_paging();
    let (src, dst) = (0x10_0000u32, 0x20_0800u32);
    let data: Vec<u8> = (0..0x1000u32).map(|n| (n * 13 + 1) as u8).collect();
    m.write_bytes(src, &data);
    m.set_pte_flags(0x20_1000, 0); // second destination page not present
    m.set(reg::ESI, src);
    m.set(reg::EDI, dst);
    m.set(reg::ECX, 0x400); // 0x1000 bytes of dwords
    let (r, _) = m.step_rep(&[0xF3, 0xA5]);
    assert_eq!(r, Err(Fault::with_code(vector::PF, 2)));
    assert_eq!(m.cpu.state.cr2, 0x20_1000);
    assert_eq!(m.cpu.state.eip, CODE, "restartable");
    assert_eq!(
        m.reg(reg::ECX),
        0x400 - 0x200,
        "the first page's elements are done"
    );
    assert_eq!(m.reg(reg::ESI), src + 0x800);
    assert_eq!(m.reg(reg::EDI), 0x20_1000);
    m.set_pte_flags(0x20_1000, 7);
    let (r, _) = m.step_rep(&[0xF3, 0xA5]);
    r.unwrap();
    assert_eq!(m.reg(reg::ECX), 0);
    assert_eq!(m.read_bytes(dst, 0x1000), data);
}

#[test]
fn rep_stos_into_a_code_page_is_noticed() {
    let mut m = Machine::flat32();
    m.cpu.mmu.mark_code_page(0x150);
    m.set(reg::EDI, 0x14_FF00);
    m.set(reg::ECX, 0x200);
    m.set(reg::EAX, 0x90);
    let (r, _) = m.step_rep(&[0xF3, 0xAA]);
    r.unwrap();
    assert!(
        m.cpu.mmu.phys.code_written(),
        "writes to a code page go through the slow path"
    );
    assert!(m.read_bytes(0x14_FF00, 0x200).iter().all(|&b| b == 0x90));
}

#[test]
fn rep_outs_and_ins_use_the_port() {
    let mut m = Machine::flat32();
    m.write_bytes(0x2000, &[1, 2, 3]);
    m.set(reg::ESI, 0x2000);
    m.set(reg::EDX, 0x3F8);
    m.set(reg::ECX, 3);
    m.step(&[0xF3, 0x6E]).unwrap(); // rep outsb
    let writes: Vec<_> =
        m.io.borrow()
            .iter()
            .map(|&(w, p, s, v)| (w, p, s, v))
            .collect();
    assert_eq!(
        writes,
        vec![
            (true, 0x3F8, 1, 1),
            (true, 0x3F8, 1, 2),
            (true, 0x3F8, 1, 3)
        ]
    );
    m.io.borrow_mut().clear();
    m.reads.borrow_mut().extend([0x1111, 0x2222]);
    m.rewind(CODE);
    m.set(reg::EDI, 0x5000);
    m.set(reg::ECX, 2);
    m.step(&[0x66, 0xF3, 0x6D]).unwrap(); // rep insw
    assert_eq!(m.read32(0x5000), 0x2222_1111);
    assert_eq!(m.reg(reg::EDI), 0x5004);
}

#[test]
fn ins_to_faulting_memory_reads_no_port() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::ES as usize] = data_segment(0x38, 0, 0xFFF, true);
    m.set(reg::EDI, 0x2000);
    m.set(reg::EDX, 0x60);
    assert_eq!(m.step(&[0x6C]), Err(Fault::GP0));
    assert!(m.io.borrow().is_empty(), "the device was not read");
}

#[test]
fn long_rep_through_the_execution_loop() {
    // REP STOSD over 4 MiB then HLT, run by `Cpu::run`: the chunks re-enter the instruction
    // until the count is exhausted, then execution continues after it.
    let mut m = Machine::flat32();
    m.write_bytes(CODE, &[0xF3, 0xAB, 0xF4]); // rep stosd; hlt
    m.set(reg::EDI, 0x20_0000);
    m.set(reg::ECX, 0x10_0000);
    m.set(reg::EAX, 0x0BAD_F00D);
    let exit = m.cpu.run(10_000);
    assert_eq!(exit, webx86_cpu::RunExit::HaltedForever);
    assert_eq!(m.reg(reg::ECX), 0);
    assert_eq!(m.reg(reg::EDI), 0x60_0000);
    assert_eq!(m.cpu.state.eip, CODE + 3);
    assert_eq!(m.read32(0x5F_FFFC), 0x0BAD_F00D);
    assert!(
        m.cpu.state.retired > 2,
        "each chunk counts as an instruction"
    );
}
