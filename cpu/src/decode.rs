//! Decoding guest code with `iced-x86` into blocks of [`Op`]s.

use std::rc::Rc;

use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction};
use webx86_mmu::{Access, LinAddr, PhysAddr};

use crate::cache::{block_key, fast_tag, Block};
use crate::exec;
use crate::fault::Fault;
use crate::ir::Op;
use crate::state::sreg;
use crate::Cpu;

/// Most instructions in one block.
const MAX_BLOCK_OPS: usize = 64;
/// Longest legal instruction (SDM vol. 2A §2.3.11).
const MAX_INSN_LEN: usize = 15;

/// An instruction lowered to IR.
pub struct Lowered {
    pub op: Op,
    /// The instruction changes state that later instructions' decoding or execution depends on
    /// (CS, CR0, EFLAGS.IF, ...), so the block must end after it.
    pub ends_block: bool,
    /// The handler neither writes memory nor sets [`Cpu::end_block`], so the execution loop
    /// need not check for an early end after it.
    pub pure: bool,
}

impl Lowered {
    pub fn op(op: Op) -> Self {
        Self {
            op,
            ends_block: false,
            pure: false,
        }
    }
    pub fn ending(op: Op) -> Self {
        Self {
            op,
            ends_block: true,
            pure: false,
        }
    }
}

impl Cpu {
    /// The block at CS:EIP, from the cache or freshly decoded.
    #[inline]
    pub(crate) fn fetch_block(&mut self) -> Result<Rc<Block>, Fault> {
        // No block found through the lookup cache is running now.
        self.cache.release_dropped();
        let eip = self.state.eip;
        let cs = self.state.segs[sreg::CS as usize];
        if eip > cs.limit {
            return Err(Fault::GP0);
        }
        let lin = cs.base.wrapping_add(eip);
        let user = self.state.user();
        let tag = fast_tag(cs.big(), user);
        let generation = self.mmu.generation();
        if let Some(block) = self.cache.lookup_fast(lin, tag, generation) {
            if u64::from(eip) + u64::from(block.byte_len) <= u64::from(cs.limit) + 1 {
                return Ok(Rc::clone(block));
            }
        }
        let phys = self
            .mmu
            .translate(LinAddr(lin), Access::read(user))
            .map_err(|pf| self.page_fault(pf))?;
        let key = block_key(phys.0, cs.big());
        if let Some(block) = self.cache.get(key) {
            if u64::from(eip) + u64::from(block.byte_len) <= u64::from(cs.limit) + 1 {
                let block = Rc::clone(block);
                self.cache.remember_fast(lin, tag, generation, &block);
                return Ok(block);
            }
        }
        let (block, cacheable) = self.decode_block(eip, lin, phys, cs.big(), cs.limit)?;
        let block = Rc::new(block);
        if cacheable {
            self.mmu.mark_code_page(phys.page());
            self.cache.insert(key, Rc::clone(&block));
            self.cache
                .remember_fast(lin, tag, self.mmu.generation(), &block);
        }
        Ok(block)
    }

    /// Decodes from `phys` (linear `lin`, offset `eip` in CS) to the end of a block. Returns
    /// whether the block may be cached: an instruction crossing into another page is decoded
    /// on its own each time, since that page's mapping may change under it.
    fn decode_block(
        &mut self,
        eip: u32,
        lin: u32,
        phys: PhysAddr,
        code32: bool,
        cs_limit: u32,
    ) -> Result<(Block, bool), Fault> {
        let in_page = 0x1000 - (phys.0 & 0xFFF);
        let to_limit = u64::from(cs_limit) - u64::from(eip) + 1;
        let avail = u64::from(in_page).min(to_limit) as usize;
        let mut bytes = vec![0u8; avail];
        self.mmu.phys.read_bytes(phys, &mut bytes);
        let bitness = if code32 { 32 } else { 16 };
        let mut decoder = Decoder::with_ip(bitness, &bytes, u64::from(eip), DecoderOptions::NONE);
        // The ops to run (fused pairs as one) and the ops one per instruction.
        let mut ops: Vec<Op> = Vec::new();
        let mut unfused: Vec<Op> = Vec::new();
        let mut byte_len = 0u32;
        let mut chains = true;
        // Whether an op before the last one is not pure (the last one's early end is its end).
        let (mut impure_before, mut last_impure) = (false, false);
        let mut instr = Instruction::default();
        // The instruction before the one just decoded, for fusing it with a Jcc.
        let mut prev = Instruction::default();
        while unfused.len() < MAX_BLOCK_OPS {
            let start = decoder.position();
            decoder.decode_out(&mut instr);
            if decoder.last_error() == DecoderError::NoMoreBytes {
                if unfused.is_empty() {
                    return self.decode_straddling(eip, lin, &bytes[start..], bitness, to_limit);
                }
                break;
            }
            let mut lowered = lower(&instr, decoder.last_error());
            byte_len += instr.len() as u32;
            // A Jcc with room after it does not end the block: its taken branch is a side exit.
            let jcc = decoder.last_error() == DecoderError::None && instr.is_jcc_short_or_near();
            let exit_handler = if jcc && unfused.len() + 1 < MAX_BLOCK_OPS {
                exec::side_exit_jcc(&instr)
            } else {
                None
            };
            let side_exit = exit_handler.is_some();
            if let Some(handler) = exit_handler {
                lowered.op.handler = handler;
            }
            let ends =
                !side_exit && (lowered.ends_block || instr.flow_control() != FlowControl::Next);
            chains = !lowered.ends_block;
            impure_before |= last_impure;
            last_impure = !lowered.pure;
            // At most MAX_BLOCK_OPS instructions: fits.
            lowered.op.insn_end = (unfused.len() + 1) as u8;
            // A Jcc fuses with the instruction before it when that one is not itself the end of
            // a pair (see `exec::fused`).
            let mut fused = false;
            if let Some(last) = ops.last_mut() {
                if jcc && last.first_len == 0 {
                    if let Some(pair) = exec::fuse(&prev, last, &instr, &lowered.op, side_exit) {
                        *last = pair;
                        fused = true;
                    }
                }
            }
            if !fused {
                ops.push(lowered.op);
            }
            unfused.push(lowered.op);
            prev = instr;
            if ends {
                break;
            }
        }
        let mut block = Block::new(ops, unfused, byte_len, chains);
        block.checks_each_op = impure_before;
        Ok((block, true))
    }

    /// Decodes one instruction that runs past the end of the page (or into the CS limit).
    fn decode_straddling(
        &mut self,
        eip: u32,
        lin: u32,
        head: &[u8],
        bitness: u32,
        to_limit: u64,
    ) -> Result<(Block, bool), Fault> {
        let want = (MAX_INSN_LEN as u64).min(to_limit) as usize;
        let mut bytes = head.to_vec();
        if want > head.len() {
            let next_lin = lin.wrapping_add(head.len() as u32);
            let user = self.state.user();
            let next = self
                .mmu
                .translate(LinAddr(next_lin), Access::read(user))
                .map_err(|pf| self.page_fault(pf))?;
            let mut tail = vec![0u8; want - head.len()];
            self.mmu.phys.read_bytes(next, &mut tail);
            bytes.extend_from_slice(&tail);
        }
        let mut decoder = Decoder::with_ip(bitness, &bytes, u64::from(eip), DecoderOptions::NONE);
        let instr = decoder.decode();
        match decoder.last_error() {
            // Running into the CS limit mid-instruction is #GP(0); 15 bytes without an end is #GP(0)
            DecoderError::NoMoreBytes => Err(Fault::GP0),
            error => {
                let lowered = lower(&instr, error);
                let block = Block::new(
                    vec![lowered.op],
                    vec![lowered.op],
                    instr.len() as u32,
                    false,
                );
                Ok((block, false))
            }
        }
    }
}

/// Lowers one decoded instruction; invalid encodings become an op raising #UD.
fn lower(instr: &Instruction, error: DecoderError) -> Lowered {
    if error != DecoderError::None || instr.is_invalid() {
        return Lowered::ending(Op::bare(exec::raise_ud, instr.len().max(1) as u8));
    }
    exec::lower(instr)
}
