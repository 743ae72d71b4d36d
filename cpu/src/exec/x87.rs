//! The x87 instructions (escape opcodes D8–DF and WAIT): lowering to handlers specialised by
//! operation and operand format. The semantics are in `crate::fpu` and the handler modules
//! below; every handler starts with the #NM / pending-exception checks of
//! [`Cpu::fpu_enter`](crate::Cpu) and non-control instructions record FIP/FDP/FOP.

mod arith;
mod data;
mod env;
mod math;

use iced_x86::{Code, Instruction, Register};

use crate::decode::Lowered;
use crate::ir::{Handler, Op};

use arith::*;
use data::*;
use env::*;
use math::*;

/// Memory operand formats, as const generic parameters.
pub(crate) mod fmt {
    pub const M32: u8 = 0;
    pub const M64: u8 = 1;
    pub const I16: u8 = 2;
    pub const I32: u8 = 3;
    pub const I64: u8 = 4;
    pub const M80: u8 = 5;
    pub const BCD: u8 = 6;
}

/// How the 11-bit x87 opcode (FOP) of an instruction is formed: the low three bits of the
/// escape byte and the ModRM byte.
#[derive(Clone, Copy)]
enum Enc {
    /// A memory form `esc /reg`: ModRM rebuilt from the addressing.
    Mem(u8, u8),
    /// A register form: ModRM `base + i` where ST(i) is operand `n`.
    Reg(u8, u8, u32),
    /// A fixed ModRM.
    Fixed(u8, u8),
}

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    use fmt::*;
    use Code::*;
    use Enc::*;
    let (handler, enc): (Handler, Enc) = match i.code() {
        Fadd_m32fp => (arith_mem::<ADD, M32>, Mem(0xD8, 0)),
        Fmul_m32fp => (arith_mem::<MUL, M32>, Mem(0xD8, 1)),
        Fcom_m32fp => (arith_mem::<COM, M32>, Mem(0xD8, 2)),
        Fcomp_m32fp => (arith_mem::<COMP, M32>, Mem(0xD8, 3)),
        Fsub_m32fp => (arith_mem::<SUB, M32>, Mem(0xD8, 4)),
        Fsubr_m32fp => (arith_mem::<SUBR, M32>, Mem(0xD8, 5)),
        Fdiv_m32fp => (arith_mem::<DIV, M32>, Mem(0xD8, 6)),
        Fdivr_m32fp => (arith_mem::<DIVR, M32>, Mem(0xD8, 7)),
        Fadd_m64fp => (arith_mem::<ADD, M64>, Mem(0xDC, 0)),
        Fmul_m64fp => (arith_mem::<MUL, M64>, Mem(0xDC, 1)),
        Fcom_m64fp => (arith_mem::<COM, M64>, Mem(0xDC, 2)),
        Fcomp_m64fp => (arith_mem::<COMP, M64>, Mem(0xDC, 3)),
        Fsub_m64fp => (arith_mem::<SUB, M64>, Mem(0xDC, 4)),
        Fsubr_m64fp => (arith_mem::<SUBR, M64>, Mem(0xDC, 5)),
        Fdiv_m64fp => (arith_mem::<DIV, M64>, Mem(0xDC, 6)),
        Fdivr_m64fp => (arith_mem::<DIVR, M64>, Mem(0xDC, 7)),
        Fiadd_m32int => (arith_mem::<ADD, I32>, Mem(0xDA, 0)),
        Fimul_m32int => (arith_mem::<MUL, I32>, Mem(0xDA, 1)),
        Ficom_m32int => (arith_mem::<COM, I32>, Mem(0xDA, 2)),
        Ficomp_m32int => (arith_mem::<COMP, I32>, Mem(0xDA, 3)),
        Fisub_m32int => (arith_mem::<SUB, I32>, Mem(0xDA, 4)),
        Fisubr_m32int => (arith_mem::<SUBR, I32>, Mem(0xDA, 5)),
        Fidiv_m32int => (arith_mem::<DIV, I32>, Mem(0xDA, 6)),
        Fidivr_m32int => (arith_mem::<DIVR, I32>, Mem(0xDA, 7)),
        Fiadd_m16int => (arith_mem::<ADD, I16>, Mem(0xDE, 0)),
        Fimul_m16int => (arith_mem::<MUL, I16>, Mem(0xDE, 1)),
        Ficom_m16int => (arith_mem::<COM, I16>, Mem(0xDE, 2)),
        Ficomp_m16int => (arith_mem::<COMP, I16>, Mem(0xDE, 3)),
        Fisub_m16int => (arith_mem::<SUB, I16>, Mem(0xDE, 4)),
        Fisubr_m16int => (arith_mem::<SUBR, I16>, Mem(0xDE, 5)),
        Fidiv_m16int => (arith_mem::<DIV, I16>, Mem(0xDE, 6)),
        Fidivr_m16int => (arith_mem::<DIVR, I16>, Mem(0xDE, 7)),

        Fadd_st0_sti => (arith_reg::<ADD, false, false>, Reg(0xD8, 0xC0, 1)),
        Fmul_st0_sti => (arith_reg::<MUL, false, false>, Reg(0xD8, 0xC8, 1)),
        Fsub_st0_sti => (arith_reg::<SUB, false, false>, Reg(0xD8, 0xE0, 1)),
        Fsubr_st0_sti => (arith_reg::<SUBR, false, false>, Reg(0xD8, 0xE8, 1)),
        Fdiv_st0_sti => (arith_reg::<DIV, false, false>, Reg(0xD8, 0xF0, 1)),
        Fdivr_st0_sti => (arith_reg::<DIVR, false, false>, Reg(0xD8, 0xF8, 1)),
        Fadd_sti_st0 => (arith_reg::<ADD, true, false>, Reg(0xDC, 0xC0, 0)),
        Fmul_sti_st0 => (arith_reg::<MUL, true, false>, Reg(0xDC, 0xC8, 0)),
        Fsubr_sti_st0 => (arith_reg::<SUBR, true, false>, Reg(0xDC, 0xE0, 0)),
        Fsub_sti_st0 => (arith_reg::<SUB, true, false>, Reg(0xDC, 0xE8, 0)),
        Fdivr_sti_st0 => (arith_reg::<DIVR, true, false>, Reg(0xDC, 0xF0, 0)),
        Fdiv_sti_st0 => (arith_reg::<DIV, true, false>, Reg(0xDC, 0xF8, 0)),
        Faddp_sti_st0 => (arith_reg::<ADD, true, true>, Reg(0xDE, 0xC0, 0)),
        Fmulp_sti_st0 => (arith_reg::<MUL, true, true>, Reg(0xDE, 0xC8, 0)),
        Fsubrp_sti_st0 => (arith_reg::<SUBR, true, true>, Reg(0xDE, 0xE0, 0)),
        Fsubp_sti_st0 => (arith_reg::<SUB, true, true>, Reg(0xDE, 0xE8, 0)),
        Fdivrp_sti_st0 => (arith_reg::<DIVR, true, true>, Reg(0xDE, 0xF0, 0)),
        Fdivp_sti_st0 => (arith_reg::<DIV, true, true>, Reg(0xDE, 0xF8, 0)),

        Fcom_st0_sti => (compare_reg::<false, 0>, Reg(0xD8, 0xD0, 1)),
        Fcomp_st0_sti => (compare_reg::<false, 1>, Reg(0xD8, 0xD8, 1)),
        Fcom_st0_sti_DCD0 => (compare_reg::<false, 0>, Reg(0xDC, 0xD0, 1)),
        Fcomp_st0_sti_DCD8 => (compare_reg::<false, 1>, Reg(0xDC, 0xD8, 1)),
        Fcomp_st0_sti_DED0 => (compare_reg::<false, 1>, Reg(0xDE, 0xD0, 1)),
        Fcompp => (compare_reg::<false, 2>, Fixed(0xDE, 0xD9)),
        Fucom_st0_sti => (compare_reg::<true, 0>, Reg(0xDD, 0xE0, 1)),
        Fucomp_st0_sti => (compare_reg::<true, 1>, Reg(0xDD, 0xE8, 1)),
        Fucompp => (compare_reg::<true, 2>, Fixed(0xDA, 0xE9)),
        Fcomi_st0_sti => (compare_eflags::<false, false>, Reg(0xDB, 0xF0, 1)),
        Fucomi_st0_sti => (compare_eflags::<true, false>, Reg(0xDB, 0xE8, 1)),
        Fcomip_st0_sti => (compare_eflags::<false, true>, Reg(0xDF, 0xF0, 1)),
        Fucomip_st0_sti => (compare_eflags::<true, true>, Reg(0xDF, 0xE8, 1)),
        Ftst => (test_zero, Fixed(0xD9, 0xE4)),
        Fxam => (examine, Fixed(0xD9, 0xE5)),

        Fld_m32fp => (load_mem::<M32>, Mem(0xD9, 0)),
        Fld_m64fp => (load_mem::<M64>, Mem(0xDD, 0)),
        Fld_m80fp => (load_mem::<M80>, Mem(0xDB, 5)),
        Fild_m16int => (load_mem::<I16>, Mem(0xDF, 0)),
        Fild_m32int => (load_mem::<I32>, Mem(0xDB, 0)),
        Fild_m64int => (load_mem::<I64>, Mem(0xDF, 5)),
        Fbld_m80bcd => (load_mem::<BCD>, Mem(0xDF, 4)),
        Fld_sti => (load_st, Reg(0xD9, 0xC0, 0)),
        Fld1 => (load_const::<0>, Fixed(0xD9, 0xE8)),
        Fldl2t => (load_const::<1>, Fixed(0xD9, 0xE9)),
        Fldl2e => (load_const::<2>, Fixed(0xD9, 0xEA)),
        Fldpi => (load_const::<3>, Fixed(0xD9, 0xEB)),
        Fldlg2 => (load_const::<4>, Fixed(0xD9, 0xEC)),
        Fldln2 => (load_const::<5>, Fixed(0xD9, 0xED)),
        Fldz => (load_const::<6>, Fixed(0xD9, 0xEE)),

        Fst_m32fp => (store_mem::<M32, false>, Mem(0xD9, 2)),
        Fstp_m32fp => (store_mem::<M32, true>, Mem(0xD9, 3)),
        Fst_m64fp => (store_mem::<M64, false>, Mem(0xDD, 2)),
        Fstp_m64fp => (store_mem::<M64, true>, Mem(0xDD, 3)),
        Fstp_m80fp => (store_mem::<M80, true>, Mem(0xDB, 7)),
        Fist_m16int => (store_mem::<I16, false>, Mem(0xDF, 2)),
        Fistp_m16int => (store_mem::<I16, true>, Mem(0xDF, 3)),
        Fist_m32int => (store_mem::<I32, false>, Mem(0xDB, 2)),
        Fistp_m32int => (store_mem::<I32, true>, Mem(0xDB, 3)),
        Fistp_m64int => (store_mem::<I64, true>, Mem(0xDF, 7)),
        Fbstp_m80bcd => (store_mem::<BCD, true>, Mem(0xDF, 6)),
        Fst_sti => (store_st::<false>, Reg(0xDD, 0xD0, 0)),
        Fstp_sti => (store_st::<true>, Reg(0xDD, 0xD8, 0)),
        Fstpnce_sti => (store_st::<true>, Reg(0xD9, 0xD8, 0)),
        Fstp_sti_DFD0 => (store_st::<true>, Reg(0xDF, 0xD0, 0)),
        Fstp_sti_DFD8 => (store_st::<true>, Reg(0xDF, 0xD8, 0)),

        Fxch_st0_sti => (exchange, Reg(0xD9, 0xC8, 1)),
        Fxch_st0_sti_DDC8 => (exchange, Reg(0xDD, 0xC8, 1)),
        Fxch_st0_sti_DFC8 => (exchange, Reg(0xDF, 0xC8, 1)),
        Ffree_sti => (free::<false>, Reg(0xDD, 0xC0, 0)),
        Ffreep_sti => (free::<true>, Reg(0xDF, 0xC0, 0)),
        Fincstp => (step_top::<1>, Fixed(0xD9, 0xF7)),
        Fdecstp => (step_top::<7>, Fixed(0xD9, 0xF6)),
        Fnop => (nop, Fixed(0xD9, 0xD0)),
        Fchs => (sign_op::<false>, Fixed(0xD9, 0xE0)),
        Fabs => (sign_op::<true>, Fixed(0xD9, 0xE1)),
        Fcmovb_st0_sti => (cmov::<0x2, false>, Reg(0xDA, 0xC0, 1)),
        Fcmove_st0_sti => (cmov::<0x4, false>, Reg(0xDA, 0xC8, 1)),
        Fcmovbe_st0_sti => (cmov::<0x6, false>, Reg(0xDA, 0xD0, 1)),
        Fcmovu_st0_sti => (cmov::<0xA, false>, Reg(0xDA, 0xD8, 1)),
        Fcmovnb_st0_sti => (cmov::<0x2, true>, Reg(0xDB, 0xC0, 1)),
        Fcmovne_st0_sti => (cmov::<0x4, true>, Reg(0xDB, 0xC8, 1)),
        Fcmovnbe_st0_sti => (cmov::<0x6, true>, Reg(0xDB, 0xD0, 1)),
        Fcmovnu_st0_sti => (cmov::<0xA, true>, Reg(0xDB, 0xD8, 1)),

        Fsqrt => (unary::<SQRT>, Fixed(0xD9, 0xFA)),
        Frndint => (unary::<RNDINT>, Fixed(0xD9, 0xFC)),
        F2xm1 => (unary::<F2XM1>, Fixed(0xD9, 0xF0)),
        Fsin => (unary::<SIN>, Fixed(0xD9, 0xFE)),
        Fcos => (unary::<COS>, Fixed(0xD9, 0xFF)),
        Fscale => (binary::<SCALE>, Fixed(0xD9, 0xFD)),
        Fprem => (binary::<PREM>, Fixed(0xD9, 0xF8)),
        Fprem1 => (binary::<PREM1>, Fixed(0xD9, 0xF5)),
        Fpatan => (binary::<PATAN>, Fixed(0xD9, 0xF3)),
        Fyl2x => (binary::<YL2X>, Fixed(0xD9, 0xF1)),
        Fyl2xp1 => (binary::<YL2XP1>, Fixed(0xD9, 0xF9)),
        Fxtract => (pushing::<XTRACT>, Fixed(0xD9, 0xF4)),
        Fptan => (pushing::<PTAN>, Fixed(0xD9, 0xF2)),
        Fsincos => (pushing::<SINCOS>, Fixed(0xD9, 0xFB)),

        // Control instructions: they record no pointers, so their encoding does not matter.
        Fldcw_m2byte => (load_control, Fixed(0, 0)),
        Fnstcw_m2byte => (store_control::<false>, Fixed(0, 0)),
        Fstcw_m2byte => (store_control::<true>, Fixed(0, 0)),
        Fnstsw_m2byte => (store_status::<false>, Fixed(0, 0)),
        Fstsw_m2byte => (store_status::<true>, Fixed(0, 0)),
        Fnstsw_AX => (store_status_ax::<false>, Fixed(0, 0)),
        Fstsw_AX => (store_status_ax::<true>, Fixed(0, 0)),
        Fldenv_m14byte | Fldenv_m28byte => (load_env, Fixed(0, 0)),
        Fnstenv_m14byte | Fnstenv_m28byte => (store_env::<false>, Fixed(0, 0)),
        Fstenv_m14byte | Fstenv_m28byte => (store_env::<true>, Fixed(0, 0)),
        Frstor_m94byte | Frstor_m108byte => (restore, Fixed(0, 0)),
        Fnsave_m94byte | Fnsave_m108byte => (save::<false>, Fixed(0, 0)),
        Fsave_m94byte | Fsave_m108byte => (save::<true>, Fixed(0, 0)),
        Fninit => (init::<false>, Fixed(0, 0)),
        Finit => (init::<true>, Fixed(0, 0)),
        Fnclex => (clear_exceptions::<false>, Fixed(0, 0)),
        Fclex => (clear_exceptions::<true>, Fixed(0, 0)),
        // FENI, FDISI and FSETPM are ignored by the 80387 and later.
        Fneni | Fndisi | Fnsetpm => (legacy_nop::<false>, Fixed(0, 0)),
        Feni | Fdisi | Fsetpm => (legacy_nop::<true>, Fixed(0, 0)),
        Wait => (wait, Fixed(0, 0)),
        _ => return None,
    };
    if i.has_lock_prefix() {
        return Some(Lowered::ending(Op::bare(super::raise_ud, i.len() as u8)));
    }
    let mut op = Op::from_instr(i, handler);
    let (esc, modrm) = match enc {
        Mem(esc, reg) => (esc, mem_modrm(i, reg)),
        Reg(esc, base, n) => {
            let sti = st_index(i.op_register(n));
            op.aux = sti;
            (esc, base + sti)
        }
        Fixed(esc, modrm) => (esc, modrm),
    };
    op.imm2 = (u32::from(esc & 7) << 8) | u32::from(modrm);
    if matches!(
        i.code(),
        Fldenv_m14byte
            | Fnstenv_m14byte
            | Fstenv_m14byte
            | Frstor_m94byte
            | Fnsave_m94byte
            | Fsave_m94byte
    ) {
        op.flags |= crate::ir::opflag::OP16;
    }
    if i.code() == Fcompp || i.code() == Fucompp {
        op.aux = 1;
    }
    Some(Lowered::op(op))
}

fn st_index(r: Register) -> u8 {
    (r as u32).wrapping_sub(Register::ST0 as u32) as u8 & 7
}

/// The ModRM byte of a memory form `/reg`, rebuilt from the decoded addressing (FOP keeps it).
fn mem_modrm(i: &Instruction, reg: u8) -> u8 {
    let (base, index) = (i.memory_base(), i.memory_index());
    let disp = i.memory_displ_size();
    let by_disp = |wide: u8| match disp {
        0 => 0,
        1 => 1,
        _ => wide,
    };
    let (md, rm) =
        if base.size() == 2 || (base == Register::None && index == Register::None && disp == 2) {
            let rm = match (base, index) {
                (Register::BX, Register::SI) => 0,
                (Register::BX, Register::DI) => 1,
                (Register::BP, Register::SI) => 2,
                (Register::BP, Register::DI) => 3,
                (Register::SI, _) => 4,
                (Register::DI, _) => 5,
                (Register::BX, _) => 7,
                _ => 6,
            };
            let md = if base == Register::None {
                0
            } else {
                by_disp(2)
            };
            (md, rm)
        } else if base == Register::None && index == Register::None {
            (0, 5)
        } else if index != Register::None || base == Register::ESP {
            (
                if base == Register::None {
                    0
                } else {
                    by_disp(2)
                },
                4,
            )
        } else {
            (by_disp(2), (base as u32 - Register::EAX as u32) as u8 & 7)
        };
    (md << 6) | ((reg & 7) << 3) | rm
}
