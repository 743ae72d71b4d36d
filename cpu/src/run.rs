//! The execution loop: look up or decode the block at CS:EIP, run its ops, deliver faults
//! and interrupts at instruction boundaries.

use std::rc::Rc;

use crate::cache::fast_tag;
use crate::fault::{vector, Fault};
use crate::interrupt::IntKind;
use crate::ir::Op;
use crate::state::{flag, sreg};
use crate::Cpu;

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget ran out.
    Budget,
    /// HLT with interrupts disabled: only NMI or reset can wake the CPU.
    HaltedForever,
    /// HLT with interrupts enabled and none pending: the machine should advance time.
    Idle,
    /// Triple fault (or a shutdown cycle): the machine should reset or stop.
    Shutdown,
    /// A device asked for a system reset ([`crate::PlatformRequest::Reset`]).
    Reset,
}

impl Cpu {
    /// Runs until `budget` more instructions have retired or something stops the CPU.
    pub fn run(&mut self, budget: u64) -> RunExit {
        let end = self.state.retired.saturating_add(budget);
        // Code written from outside (DMA, loaders) since the last run.
        self.memory_events();
        loop {
            if let Some(exit) = self.exit.take() {
                return exit;
            }
            if self.state.retired >= end {
                return RunExit::Budget;
            }
            if self.state.interrupt_shadow != 0 {
                self.state.interrupt_shadow = 0;
            } else if self.state.eflags & flag::IF != 0 && self.platform.interrupt_pending() {
                if let Some(vector) = self.platform.acknowledge_interrupt() {
                    self.state.halted = 0;
                    self.interrupt(vector, IntKind::Hardware, None);
                    continue;
                }
            }
            if self.state.halted != 0 {
                return if self.state.eflags & flag::IF == 0 {
                    RunExit::HaltedForever
                } else {
                    RunExit::Idle
                };
            }
            if self.state.eflags & flag::TF != 0 {
                self.step_traced();
                continue;
            }
            let block = match self.fetch_block() {
                Ok(block) => block,
                Err(fault) => {
                    self.exception(fault);
                    continue;
                }
            };
            self.run_chain(block, end);
        }
    }

    /// Runs `block`, then the blocks that follow it while each ends in a near branch and the
    /// lookup cache has the next one: nothing the checks in [`Cpu::run`] look at can change in
    /// between. A near branch keeps CS and CPL, so the lookup's tag, CS base and limit are
    /// computed once for the whole chain. So is the lookup cache's epoch: what changes it (a
    /// TLB flush: MOV to CR0/CR3/CR4, INVLPG, A20, a task switch; dropped code) either ends its
    /// block by decoding (`Lowered::ending`) or makes `run_block` return false.
    ///
    /// The blocks after the first are held by pointer, without touching their reference
    /// counts: the lookup cache keeps each one allocated until the next `fetch_block` (see
    /// [`crate::cache::BlockCache`]), which is not called while the chain runs.
    #[inline]
    fn run_chain(&mut self, first: Rc<crate::Block>, end: u64) {
        let cs = &self.state.segs[sreg::CS as usize];
        let base = cs.base;
        let limit = u64::from(cs.limit) + 1;
        let tag = fast_tag(cs.big(), self.state.user());
        let epoch = self.cache.epoch(self.mmu.generation());
        let mut block: *const crate::Block = Rc::as_ptr(&first);
        // SAFETY: `block` is `first`, owned here, or a block the lookup cache held when it was
        // found; the cache keeps those allocated until `release_dropped`, which only
        // `fetch_block` calls, and no handler calls that. Blocks are only ever read through
        // shared references (their one mutable field is a `Cell`).
        while self.run_block(unsafe { &*block }, end) {
            debug_assert_eq!(epoch, self.cache.epoch(self.mmu.generation()));
            let eip = self.state.eip;
            let lin = base.wrapping_add(eip);
            match self.cache.lookup_in_epoch(lin, tag, epoch) {
                Some(next) if u64::from(eip) + u64::from(next.byte_len) <= limit => {
                    block = Rc::as_ptr(next);
                }
                _ => break,
            }
        }
    }

    /// Runs the ops of `block` from the first, stopping early on a fault, a request to end the
    /// block, a write to a code page, or the instruction budget. Returns whether the next block
    /// may follow at once (see [`crate::Block::chains`]); when the budget is used up exactly,
    /// the next block's own budget check stops the chain.
    #[inline(always)]
    fn run_block(&mut self, block: &crate::Block, end: u64) -> bool {
        let all = &block.ops[..];
        let count = u64::from(block.insns);
        if self.state.retired + count > end {
            // The budget ends inside this block: run the instructions it allows one by one
            // (a fused pair as its two instructions), then stop.
            let left = end.saturating_sub(self.state.retired) as usize;
            for n in 0..left {
                let op = block.unfused(n);
                let next = self.state.eip.wrapping_add(u32::from(op.len));
                if !self.run_single(op) {
                    break;
                }
                if self.end_block {
                    self.end_block = false;
                    self.memory_events();
                    break;
                }
                if self.state.eip != next {
                    break; // a side exit
                }
            }
            return false;
        }
        block.hits.set(block.hits.get().wrapping_add(1));
        let completed = if block.checks_each_op {
            self.run_ops::<true>(all, count)
        } else {
            self.run_ops::<false>(all, count)
        };
        if !completed {
            return false;
        }
        if self.mmu.phys.attention() {
            // Code or MMIO written by other paths (interrupt frames, bulk string copies).
            self.memory_events();
            return false;
        }
        block.chains
    }

    /// Runs a whole block's `ops`, which hold `insns` instructions, and counts them as retired;
    /// returns false if one faulted or ended the block early (the instructions that completed
    /// are counted). A taken side exit ([`Fault::SIDE_EXIT`]) ends the block as its end would.
    /// `CHECK_EACH` checks for an early end after every op; without it, only after the last
    /// (all ops before it are pure).
    #[inline(always)]
    fn run_ops<const CHECK_EACH: bool>(&mut self, ops: &[Op], insns: u64) -> bool {
        for op in ops {
            let start = self.state.eip;
            self.state.eip = start.wrapping_add(u32::from(op.len));
            if let Err(fault) = (op.handler)(self, op) {
                if fault.is_side_exit() {
                    self.state.retired += u64::from(op.insn_end);
                    return true;
                }
                // A fused pair faults only in its second instruction, after the first retired.
                self.state.eip = start.wrapping_add(u32::from(op.first_len));
                self.state.retired += u64::from(op.insn_end) - 1;
                self.exception(fault);
                return false;
            }
            // Writes through `write_lin`/`write_sys` that hit decoded code or an MMIO window
            // set `end_block`.
            if CHECK_EACH && self.end_block {
                self.end_block = false;
                self.memory_events();
                self.state.retired += u64::from(op.insn_end);
                return false;
            }
        }
        self.state.retired += insns;
        if self.end_block {
            self.end_block = false;
            self.memory_events();
            return false;
        }
        true
    }

    /// Drops decoded blocks of code pages written since the last check, and lets the
    /// platform's devices act on MMIO writes (a virtio queue notification) with guest memory.
    fn memory_events(&mut self) {
        if self.mmu.phys.attention() {
            for frame in self.mmu.phys.take_written_code_pages() {
                self.cache.invalidate_page(frame);
            }
            if self.mmu.phys.take_mmio_written() {
                self.platform.mmio_written(&mut self.mmu.phys);
                // Device DMA may have written code pages.
                for frame in self.mmu.phys.take_written_code_pages() {
                    self.cache.invalidate_page(frame);
                }
            }
        }
    }

    /// Runs one instruction with EFLAGS.TF set, then takes the single-step trap (#DB, BS).
    fn step_traced(&mut self) {
        let block = match self.fetch_block() {
            Ok(block) => block,
            Err(fault) => {
                self.exception(fault);
                return;
            }
        };
        let op = *block.unfused(0);
        if self.run_single(&op) {
            self.end_block = false;
            self.memory_events();
            self.state.dr[6] |= 1 << 14;
            self.interrupt(vector::DB, IntKind::Exception, None);
        }
    }

    /// Runs one instruction's own op (not a fused pair); returns whether it retired (a taken
    /// side exit included), else its fault has been delivered.
    fn run_single(&mut self, op: &Op) -> bool {
        let start = self.state.eip;
        self.state.eip = start.wrapping_add(u32::from(op.len));
        match (op.handler)(self, op) {
            Err(fault) if !fault.is_side_exit() => {
                self.state.eip = start;
                self.exception(fault);
                false
            }
            _ => {
                self.state.retired += 1;
                true
            }
        }
    }

    /// Delivers a fault raised by an instruction (EIP already points at it). A delivery counts
    /// against the instruction budget, so a guest stuck in a fault loop still yields.
    pub fn exception(&mut self, fault: Fault) {
        self.state.retired += 1;
        self.interrupt(fault.vector(), IntKind::Exception, fault.error_code());
    }
}
