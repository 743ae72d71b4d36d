//! Robustness (issue 3, acceptance 4): random bytes executed as code, in real mode, 16-bit
//! protected mode and 32-bit protected mode with paging, must never panic or hang the host.
//! Faults, double faults and triple faults are all fine: the guest may do anything, the
//! emulator must survive it.
//!
//! The run is split into chunks. Each chunk refills guest RAM with random bytes, rebuilds the
//! mode's tables (GDT with random extra descriptors, IDT with some random gates, TSS, page
//! tables with random present/writable/user bits), resets the CPU into the mode with random
//! registers and flags, and runs a bounded number of instructions. Whenever the CPU stops (a
//! halt, a triple fault) it is put back into the mode at a new random entry point.
//!
//! Everything derives from [`SEED`], so a failure is reproducible; the failing chunk's mode,
//! index and seed are reported. A worker thread runs the chunks while this thread watches the
//! clock: a chunk running longer than [`CHUNK_TIME_LIMIT`] is reported as a hang.
//!
//! A release build runs [`RELEASE_CHUNKS`] chunks per mode (`cargo test --release -p
//! webx86-cpu --test robustness`, as scripts/test.sh does); an unoptimised build runs fewer but
//! checks integer overflow. `WEBX86_ROBUSTNESS_CHUNKS=N` overrides the count.

mod machine;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use machine::tables::{
    access, cache_of, descriptor, enter_protected_mode, enter_real_mode, gate, new_cpu, poke32,
    poke64, pte, sel, ProtectedSetup, GDT, GDT_ENTRIES, IDT, PAGE_DIR, PAGE_TABLE,
};
use webx86_cpu::state::{cr0, cr4, flag, reg, sreg, CpuState, Segment};
use webx86_cpu::{Cpu, RunExit};

const SEED: u64 = 0x0386_2026_C0DE_5EED;
/// Guest RAM; the paged mode maps linear 0–4 MiB onto it (and onto unmapped space above it).
const RAM_BYTES: u32 = 2 << 20;
/// Bytes of RAM refilled with random bytes at the start of each chunk.
const RESEEDED_BYTES: usize = 1 << 20;
/// Instructions (and exception deliveries) per chunk.
const CHUNK_INSTRUCTIONS: u64 = 25_000;
/// Chunks per mode in optimised and unoptimised builds.
const RELEASE_CHUNKS: u32 = 400;
const DEBUG_CHUNKS: u32 = 8;
/// Restarts per chunk before moving on (a stop can come at once, e.g. HLT at the entry point).
const MAX_RESTARTS: u32 = 5_000;
/// A chunk taking longer than this has hung the emulator.
const CHUNK_TIME_LIMIT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Real,
    Protected16,
    Protected32Paged,
}

/// splitmix64: tiny, fast, and good enough to make random machine code.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn u32(&mut self) -> u32 {
        self.next() as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }
    /// True with probability 1/n.
    fn one_in(&mut self, n: u32) -> bool {
        self.below(n) == 0
    }
    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Which chunk is running, for reports.
#[derive(Clone, Copy)]
struct ChunkId {
    mode: Mode,
    index: u32,
    seed: u64,
}

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chunk {} in {:?} (chunk seed {:#018x}; WEBX86_ROBUSTNESS_CHUNKS={} reruns up to it)",
            self.index,
            self.mode,
            self.seed,
            self.index + 1
        )
    }
}

#[derive(Debug, Default)]
struct Totals {
    chunks: u32,
    instructions: u64,
    halts: u64,
    shutdowns: u64,
    bytes_seeded: u64,
}

enum Event {
    Started(ChunkId),
    Finished(Totals),
}

fn chunk_seed(mode: Mode, index: u32) -> u64 {
    let mut rng = Rng::new(SEED ^ (mode as u64) << 56 ^ u64::from(index));
    rng.next()
}

/// Random EFLAGS for an entry point: arithmetic flags, DF, IF, IOPL, NT, AC, sometimes TF.
fn random_eflags(rng: &mut Rng) -> u32 {
    let mut mask = flag::ARITH | flag::DF | flag::IF | flag::IOPL | flag::NT | flag::AC;
    if rng.one_in(16) {
        mask |= flag::TF;
    }
    flag::FIXED | (rng.u32() & mask)
}

/// Puts the CPU into `mode`, rebuilding the mode's tables, then at a random entry point.
fn enter(cpu: &mut Cpu, mode: Mode, rng: &mut Rng) {
    match mode {
        Mode::Real => enter_real_mode(cpu, 0, 0, 0, 0, None),
        Mode::Protected16 | Mode::Protected32Paged => {
            let code32 = mode == Mode::Protected32Paged;
            let setup = ProtectedSetup {
                code32,
                base: if code32 { 0 } else { 0x1_0000 },
                limit: if code32 { 0xF_FFFF } else { 0xFFFF },
                paging: code32,
                ring3: rng.one_in(4),
                fault_handler: if code32 { 0x8000 } else { 0x800 },
                stack_top: if code32 { 0x7_0000 } else { 0xFFF0 },
            };
            enter_protected_mode(cpu, &setup, 0);
            scramble_tables(cpu, &setup, rng);
            if code32 {
                scramble_paging(cpu, rng);
            }
        }
    }
    let entry = cpu.state;
    restart(cpu, mode, &entry, rng);
}

/// Back to the mode's `entry` state (tables in memory are left as the guest left them), at a
/// random entry point with random registers and flags.
fn restart(cpu: &mut Cpu, mode: Mode, entry: &CpuState, rng: &mut Rng) {
    cpu.state = *entry;
    cpu.end_block = false;
    for r in 0..8 {
        cpu.state.regs[r] = rng.u32();
    }
    match mode {
        Mode::Real => {
            for seg in [sreg::CS, sreg::SS, sreg::DS, sreg::ES, sreg::FS, sreg::GS] {
                cpu.state.segs[seg as usize] = Segment::real_mode(rng.u32() as u16);
            }
            cpu.state.eip = rng.below(0x1_0000);
        }
        Mode::Protected16 => {
            cpu.state.eip = rng.below(0x1_0000);
            cpu.state.regs[reg::ESP as usize] = rng.below(0x1_0000);
        }
        Mode::Protected32Paged => {
            cpu.state.eip = rng.below(RAM_BYTES);
            cpu.state.regs[reg::ESP as usize] = rng.below(RAM_BYTES);
        }
    }
    cpu.state.eflags = random_eflags(rng);
    cpu.sync_paging();
}

/// Random descriptors in the free GDT slots and random gates for some IDT vectors.
fn scramble_tables(cpu: &mut Cpu, setup: &ProtectedSetup, rng: &mut Rng) {
    let first_free = u32::from(sel::FIRST_FREE) / 8;
    for i in first_free..GDT_ENTRIES {
        let desc = match rng.below(4) {
            // Plausible segments with random base, limit, type, DPL and size.
            0 | 1 => descriptor(
                rng.below(RAM_BYTES),
                rng.u32() & 0xF_FFFF,
                0x80 | (rng.u32() as u8 & 0x7F),
                rng.u32() as u8 & 0xC,
            ),
            // A gate to a random offset of the ring-0 code segment.
            2 => gate(sel::CODE0, rng.u32(), 0x80 | (rng.u32() as u8 & 0x6F), 0),
            _ => rng.next(),
        };
        poke64(cpu, GDT + 8 * i, desc);
    }
    for vector in 0..256 {
        if rng.one_in(6) {
            let entry = if rng.one_in(2) {
                rng.next()
            } else {
                let selector = (rng.below(GDT_ENTRIES) * 8) as u16 | rng.below(4) as u16;
                gate(selector, rng.u32(), 0x80 | (rng.u32() as u8 & 0x6F), 0)
            };
            poke64(cpu, IDT + 8 * vector, entry);
        } else {
            let offset = if setup.code32 {
                rng.below(RAM_BYTES)
            } else {
                rng.below(0x1_0000)
            };
            let kind = if setup.code32 {
                access::INT_GATE32
            } else {
                access::INT_GATE16
            };
            poke64(
                cpu,
                IDT + 8 * vector,
                gate(sel::CODE0, offset, kind | access::DPL3, 0),
            );
        }
    }
    // Sometimes run with data segment registers holding one of the random descriptors.
    if rng.one_in(4) {
        let index = first_free + rng.below(GDT_ENTRIES - first_free);
        let selector = (index * 8) as u16;
        let lo = cpu
            .mmu
            .phys
            .read(webx86_cpu::mmu::PhysAddr(GDT + 8 * index), 4);
        let hi = cpu
            .mmu
            .phys
            .read(webx86_cpu::mmu::PhysAddr(GDT + 8 * index + 4), 4);
        let desc = u64::from(lo) | u64::from(hi) << 32;
        if desc >> 44 & 1 != 0 {
            cpu.state.segs[sreg::DS as usize] = cache_of(selector, desc);
        }
    }
}

/// Random page permissions, sometimes 4 MiB pages, global pages and CR0.WP.
fn scramble_paging(cpu: &mut Cpu, rng: &mut Rng) {
    for page in 0..1024u32 {
        let mut entry = page << 12 | pte::P | pte::RW | pte::US;
        if rng.one_in(16) {
            entry &= !pte::P;
        }
        if rng.one_in(8) {
            entry &= !pte::RW;
        }
        if rng.one_in(8) {
            entry &= !pte::US;
        }
        if rng.one_in(8) {
            entry |= rng.u32() & 0x1F8; // PWT, PCD, A, D, PAT, G
        }
        poke32(cpu, PAGE_TABLE + 4 * page, entry);
    }
    if rng.one_in(2) {
        cpu.state.cr0 |= cr0::WP;
    }
    if rng.one_in(2) {
        cpu.state.cr4 |= cr4::PSE;
        // Linear 4-8 MiB as one 4 MiB page onto physical 0 (half RAM, half unmapped).
        poke32(cpu, PAGE_DIR + 4, pte::PS | pte::P | pte::RW | pte::US);
    }
    if rng.one_in(2) {
        cpu.state.cr4 |= cr4::PGE;
    }
    if rng.one_in(8) {
        poke32(cpu, PAGE_DIR + 4 * rng.below(1024), rng.u32());
    }
    cpu.sync_paging();
    cpu.mmu.flush_all();
}

/// Runs one chunk; returns its instructions retired, halts and shutdowns.
fn run_chunk(cpu: &mut Cpu, id: ChunkId, totals: &mut Totals) {
    let mut rng = Rng::new(id.seed);
    rng.fill(&mut cpu.mmu.phys.store_mut()[..RESEEDED_BYTES]);
    totals.bytes_seeded += RESEEDED_BYTES as u64;
    enter(cpu, id.mode, &mut rng);
    let entry = cpu.state;
    let mut done = 0;
    let mut restarts = 0;
    while done < CHUNK_INSTRUCTIONS && restarts < MAX_RESTARTS {
        let before = cpu.state.retired;
        let exit = cpu.run(CHUNK_INSTRUCTIONS - done);
        done += cpu.state.retired.wrapping_sub(before);
        match exit {
            RunExit::Budget => {}
            RunExit::HaltedForever | RunExit::Idle => {
                totals.halts += 1;
                restarts += 1;
                restart(cpu, id.mode, &entry, &mut rng);
            }
            // Its platform never asks for a reset; count one with the shutdowns.
            RunExit::Shutdown | RunExit::Reset => {
                totals.shutdowns += 1;
                restarts += 1;
                restart(cpu, id.mode, &entry, &mut rng);
            }
        }
    }
    totals.instructions += done;
    totals.chunks += 1;
}

fn chunks_per_mode() -> u32 {
    if let Some(n) = std::env::var("WEBX86_ROBUSTNESS_CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if cfg!(debug_assertions) {
        DEBUG_CHUNKS
    } else {
        RELEASE_CHUNKS
    }
}

fn run_all(events: mpsc::Sender<Event>) {
    let mut totals = Totals::default();
    let mut cpu = new_cpu(RAM_BYTES);
    Rng::new(SEED).fill(cpu.mmu.phys.store_mut());
    let chunks = chunks_per_mode();
    for index in 0..chunks {
        for mode in [Mode::Real, Mode::Protected16, Mode::Protected32Paged] {
            let id = ChunkId {
                mode,
                index,
                seed: chunk_seed(mode, index),
            };
            if events.send(Event::Started(id)).is_err() {
                return;
            }
            run_chunk(&mut cpu, id, &mut totals);
        }
    }
    let _ = events.send(Event::Finished(totals));
}

fn describe(chunk: Option<ChunkId>) -> String {
    chunk.map_or_else(|| "set-up".to_string(), |id| id.to_string())
}

#[test]
fn random_code_never_panics_or_hangs() {
    let (events, watch) = mpsc::channel();
    let worker = thread::Builder::new()
        .name("random-code".into())
        .spawn(move || run_all(events))
        .expect("cannot start the worker thread");
    let started = Instant::now();
    let mut current: Option<ChunkId> = None;
    loop {
        match watch.recv_timeout(CHUNK_TIME_LIMIT) {
            Ok(Event::Started(id)) => current = Some(id),
            Ok(Event::Finished(totals)) => {
                eprintln!(
                    "robustness: {} chunks, {} instructions, {} halts, {} triple faults, {} MiB \
                     of random bytes, {:.1} s",
                    totals.chunks,
                    totals.instructions,
                    totals.halts,
                    totals.shutdowns,
                    totals.bytes_seeded >> 20,
                    started.elapsed().as_secs_f64()
                );
                assert!(totals.instructions > 0);
                break;
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "{} ran for over {} s: the emulator hangs on this input",
                describe(current),
                CHUNK_TIME_LIMIT.as_secs()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let cause = match worker.join() {
                    Err(payload) => payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default(),
                    Ok(()) => "the worker stopped without a result".to_string(),
                };
                panic!("the emulator panicked in {}: {cause}", describe(current));
            }
        }
    }
}
