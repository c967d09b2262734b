//! RV32IM instruction semantics, edge cases and the reference's decoding quirks.

mod common;

use common::*;
use rvx::ExecErrorKind;

type RFn = fn(u32, u32, u32) -> u32;
type IFn = fn(u32, u32, i32) -> u32;
type ShiftFn = fn(u32, u32, u32) -> u32;
/// A branch, its name and `(rs1, rs2, taken)` cases.
type BranchCase = (&'static str, IFn, &'static [(u32, u32, bool)]);

/// Runs `li x1, a; li x2, b; op x3, x1, x2; terminate 0` and checks everything but x3.
fn rr(op: RFn, a: u32, b: u32) -> u32 {
    let mut words = Vec::new();
    words.extend(li(1, a));
    words.extend(li(2, b));
    words.push(op(3, 1, 2));
    words.push(terminate(0));
    let state = run_ok(&words);
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(state.instret, 6);
    assert_eq!(state.pc, pc_at(5));
    let mut expected = [0u32; 32];
    expected[1] = a;
    expected[2] = b;
    expected[3] = state.regs[3];
    assert_eq!(state.regs, expected, "only x1..x3 may change");
    state.regs[3]
}

fn check_rr(name: &str, op: RFn, cases: &[(u32, u32, u32)]) {
    for &(a, b, want) in cases {
        let got = rr(op, a, b);
        assert_eq!(
            got, want,
            "{name} {a:#010x}, {b:#010x}: got {got:#010x}, want {want:#010x}"
        );
    }
}

/// Runs `li x1, a; op x3, x1, imm; terminate 0`.
fn ri(op: IFn, a: u32, imm: i32) -> u32 {
    let mut words = Vec::new();
    words.extend(li(1, a));
    words.push(op(3, 1, imm));
    words.push(terminate(0));
    let state = run_ok(&words);
    assert_eq!(state.instret, 4);
    assert_eq!(state.regs[1], a);
    assert_eq!(state.regs[2], 0);
    state.regs[3]
}

fn check_ri(name: &str, op: IFn, cases: &[(u32, i32, u32)]) {
    for &(a, imm, want) in cases {
        let got = ri(op, a, imm);
        assert_eq!(
            got, want,
            "{name} {a:#010x}, {imm}: got {got:#010x}, want {want:#010x}"
        );
    }
}

fn check_shift_imm(name: &str, op: ShiftFn, cases: &[(u32, u32, u32)]) {
    for &(a, shamt, want) in cases {
        let mut words = Vec::new();
        words.extend(li(1, a));
        words.push(op(3, 1, shamt));
        words.push(terminate(0));
        let state = run_ok(&words);
        assert_eq!(state.instret, 4);
        assert_eq!(state.regs[3], want, "{name} {a:#010x}, {shamt}");
    }
}

const MIN: u32 = 0x8000_0000;
const MAX: u32 = 0x7fff_ffff;
const NEG1: u32 = u32::MAX;

fn neg(x: i32) -> u32 {
    x as u32
}

#[test]
fn add_sub() {
    check_rr(
        "add",
        add,
        &[
            (1, 2, 3),
            (NEG1, 1, 0),
            (MAX, 1, MIN),
            (MIN, MIN, 0),
            (0, 0, 0),
            (neg(-5), 3, neg(-2)),
        ],
    );
    check_rr(
        "sub",
        sub,
        &[
            (0, 1, NEG1),
            (MIN, 1, MAX),
            (5, 5, 0),
            (3, neg(-4), 7),
            (0, MIN, MIN),
        ],
    );
}

#[test]
fn logic_ops() {
    let (a, b) = (0xff00_ff00, 0x0ff0_0ff0);
    check_rr(
        "xor",
        xor,
        &[
            (a, b, 0xf0f0_f0f0),
            (NEG1, 0x1234_5678, 0xedcb_a987),
            (7, 7, 0),
        ],
    );
    check_rr(
        "or",
        or,
        &[(a, b, 0xfff0_fff0), (0, 0, 0), (MIN, 1, 0x8000_0001)],
    );
    check_rr(
        "and",
        and,
        &[
            (a, b, 0x0f00_0f00),
            (NEG1, 0x1234_5678, 0x1234_5678),
            (MIN, MAX, 0),
        ],
    );
}

#[test]
fn register_shifts_mask_amount_to_five_bits() {
    check_rr(
        "sll",
        sll,
        &[
            (1, 31, MIN),
            (1, 32, 1),
            (1, 33, 2),
            (NEG1, 0xffff_ffe4, 0xffff_fff0),
            (0x1234_5678, 0, 0x1234_5678),
            (0x1234_5678, 4, 0x2345_6780),
        ],
    );
    check_rr(
        "srl",
        srl,
        &[
            (MIN, 31, 1),
            (MIN, 32, MIN),
            (MIN, 0x3f, 1),
            (0xf000_0000, 4, 0x0f00_0000),
            (NEG1, 0x8000_0001, MAX),
        ],
    );
    check_rr(
        "sra",
        sra,
        &[
            (MIN, 31, NEG1),
            (MIN, 4, 0xf800_0000),
            (MIN, 36, 0xf800_0000),
            (MAX, 30, 1),
            (0xf000_0000, 64, 0xf000_0000),
        ],
    );
}

#[test]
fn set_less_than() {
    check_rr(
        "slt",
        slt,
        &[
            (NEG1, 1, 1),
            (1, NEG1, 0),
            (MIN, MAX, 1),
            (MAX, MIN, 0),
            (5, 5, 0),
            (neg(-6), neg(-5), 1),
        ],
    );
    check_rr(
        "sltu",
        sltu,
        &[
            (NEG1, 1, 0),
            (1, NEG1, 1),
            (0, 1, 1),
            (5, 5, 0),
            (MAX, MIN, 1),
            (MIN, MAX, 0),
        ],
    );
}

#[test]
fn multiplication() {
    check_rr(
        "mul",
        mul,
        &[
            (3, 4, 12),
            (NEG1, NEG1, 1),
            (0x10000, 0x10000, 0),
            (MIN, 2, 0),
            (neg(-3), 5, neg(-15)),
            (0x1234_5678, 0x9abc_def0, 0x242d_2080),
        ],
    );
    check_rr(
        "mulh",
        mulh,
        &[
            (NEG1, NEG1, 0),
            (MIN, MIN, 0x4000_0000),
            (NEG1, 1, NEG1),
            (MAX, MAX, 0x3fff_ffff),
            (MIN, MAX, 0xc000_0000),
            (2, 0x8000_0000, NEG1),
            (0x1234_5678, 0x9abc_def0, 0xf8cc_93d6),
        ],
    );
    check_rr(
        "mulhsu",
        mulhsu,
        &[
            (NEG1, NEG1, NEG1),
            (1, NEG1, 0),
            (MIN, NEG1, MIN),
            (2, MIN, 1),
            (neg(-2), MIN, NEG1),
            (0x1234_5678, 0x9abc_def0, 0x0b00_ea4e),
        ],
    );
    check_rr(
        "mulhu",
        mulhu,
        &[
            (NEG1, NEG1, 0xffff_fffe),
            (MIN, 2, 1),
            (NEG1, 1, 0),
            (0x1234_5678, 0x9abc_def0, 0x0b00_ea4e),
        ],
    );
}

#[test]
fn division_by_zero_and_overflow() {
    check_rr(
        "div",
        div,
        &[
            (7, 2, 3),
            (neg(-7), 2, neg(-3)),
            (7, neg(-2), neg(-3)),
            (neg(-7), neg(-2), 3),
            (7, 0, NEG1),
            (neg(-7), 0, NEG1),
            (0, 0, NEG1),
            (MIN, NEG1, MIN),
            (MIN, 1, MIN),
        ],
    );
    check_rr(
        "divu",
        divu,
        &[
            (7, 2, 3),
            (NEG1, 2, MAX),
            (7, 0, NEG1),
            (0, 0, NEG1),
            (MIN, NEG1, 0),
            (NEG1, NEG1, 1),
        ],
    );
    check_rr(
        "rem",
        rem,
        &[
            (7, 2, 1),
            (neg(-7), 2, NEG1),
            (7, neg(-2), 1),
            (neg(-7), neg(-2), NEG1),
            (neg(-7), 0, neg(-7)),
            (7, 0, 7),
            (MIN, NEG1, 0),
            (MIN, 3, neg(-2)),
        ],
    );
    check_rr(
        "remu",
        remu,
        &[
            (7, 2, 1),
            (NEG1, 10, 5),
            (7, 0, 7),
            (NEG1, 0, NEG1),
            (MIN, NEG1, MIN),
            (0, 0, 0),
        ],
    );
}

#[test]
fn immediate_alu_sign_extends() {
    check_ri(
        "addi",
        addi,
        &[
            (5, -1, 4),
            (0, -2048, 0xffff_f800),
            (NEG1, 1, 0),
            (MAX, 1, MIN),
            (0, 2047, 0x7ff),
        ],
    );
    check_ri(
        "slti",
        slti,
        &[
            (neg(-5), -4, 1),
            (neg(-4), -5, 0),
            (0, -1, 0),
            (MIN, 0, 1),
            (5, 2047, 1),
            (5, 5, 0),
        ],
    );
    check_ri(
        "sltiu",
        sltiu,
        &[
            // The immediate is sign-extended, then compared as unsigned.
            (0, -1, 1),
            (0xffff_fffe, -1, 1),
            (NEG1, -1, 0),
            (0xffff_f7ff, -2048, 1),
            (0xffff_f800, -2048, 0),
            (0x7ff, 2047, 0),
            (0, 1, 1),
            (5, 0, 0),
        ],
    );
    check_ri(
        "xori",
        xori,
        &[
            (0x1234_5678, -1, 0xedcb_a987),
            (0xff, 0x0f, 0xf0),
            (0, -2048, 0xffff_f800),
        ],
    );
    check_ri(
        "ori",
        ori,
        &[
            (0, -2048, 0xffff_f800),
            (0x1234_0000, 0x5a, 0x1234_005a),
            (MIN, 1, 0x8000_0001),
        ],
    );
    check_ri(
        "andi",
        andi,
        &[
            (0x1234_5678, -16, 0x1234_5670),
            (NEG1, 0x7ff, 0x7ff),
            (0x1234_5678, -2048, 0x1234_5000),
        ],
    );
}

#[test]
fn immediate_shifts() {
    check_shift_imm(
        "slli",
        slli,
        &[
            (1, 31, MIN),
            (0x1234_5678, 0, 0x1234_5678),
            (0x1234_5678, 4, 0x2345_6780),
        ],
    );
    check_shift_imm(
        "srli",
        srli,
        &[(MIN, 31, 1), (NEG1, 1, MAX), (0x1234_5678, 0, 0x1234_5678)],
    );
    check_shift_imm(
        "srai",
        srai,
        &[
            (MIN, 31, NEG1),
            (MIN, 1, 0xc000_0000),
            (0x4000_0000, 1, 0x2000_0000),
            (NEG1, 0, NEG1),
        ],
    );
}

#[test]
fn slli_ignores_funct7_like_the_reference() {
    for funct7 in [0x01u32, 0x20, 0x7f] {
        let word = slli(3, 1, 4) | (funct7 << 25);
        let mut words = li(1, 0x1234_5678).to_vec();
        words.push(word);
        words.push(terminate(0));
        let state = run_ok(&words);
        assert_eq!(state.regs[3], 0x2345_6780, "slli with funct7 {funct7:#x}");
        assert_eq!(state.instret, 4);
    }
}

#[test]
fn srli_srai_with_other_funct7_are_illegal() {
    for word in [
        srli(3, 1, 4) | (1 << 25),
        srai(3, 1, 4) | (1 << 25),
        srli(3, 1, 4) | (0x40 << 25),
    ] {
        let e = run_exec_err(&[addi(1, 0, 1), word, terminate(0)], &[]);
        assert_eq!(e.kind, ExecErrorKind::IllegalInstruction { word });
        assert_eq!((e.pc, e.instret), (pc_at(1), 1));
    }
}

#[test]
fn lui_sets_upper_bits_and_clears_lower() {
    let state = run_ok(&[
        addi(5, 0, -1),
        lui(5, 1),
        lui(6, 0xfffff),
        lui(7, 0x80000),
        lui(8, 0x12345),
        lui(9, 0),
        terminate(0),
    ]);
    assert_eq!(state.regs[5], 0x1000);
    assert_eq!(state.regs[6], 0xffff_f000);
    assert_eq!(state.regs[7], 0x8000_0000);
    assert_eq!(state.regs[8], 0x1234_5000);
    assert_eq!(state.regs[9], 0);
    assert_eq!(state.instret, 7);
}

#[test]
fn li_helper_loads_any_constant() {
    let values = [
        0u32,
        1,
        0x7ff,
        0x800,
        0xfff,
        0x1000,
        MIN,
        MAX,
        NEG1,
        0xdead_beef,
        0x1234_5800,
        0xffff_f800,
    ];
    let mut words = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        words.extend(li(i as u32 + 1, v));
    }
    words.push(terminate(0));
    let state = run_ok(&words);
    for (i, &v) in values.iter().enumerate() {
        assert_eq!(state.regs[i + 1], v, "li {v:#x}");
    }
}

#[test]
fn auipc_is_pc_relative() {
    let state = run_ok(&[
        NOP,
        NOP,
        auipc(5, 0),
        auipc(6, 1),
        auipc(7, 0xfffff),
        auipc(8, 0x80000),
        terminate(0),
    ]);
    assert_eq!(state.regs[5], pc_at(2));
    assert_eq!(state.regs[6], pc_at(3) + 0x1000);
    assert_eq!(state.regs[7], pc_at(4).wrapping_sub(0x1000));
    assert_eq!(state.regs[8], pc_at(5).wrapping_add(0x8000_0000));
    assert_eq!(state.instret, 7);
}

#[test]
fn writes_to_x0_are_discarded() {
    let data = [0x11u8, 0x22, 0x33, 0x44];
    let mut a = Asm::new();
    a.op(addi(1, 0, 7));
    a.emit(li(10, DATA));
    a.op(addi(0, 0, 5))
        .op(add(0, 1, 1))
        .op(sub(0, 0, 1))
        .op(lui(0, 0x12345))
        .op(auipc(0, 1))
        .op(mul(0, 1, 1))
        .op(div(0, 1, 1))
        .op(remu(0, 1, 1))
        .op(slli(0, 1, 3))
        .op(sltiu(0, 0, 1))
        .op(xori(0, 0, -1))
        .op(lw(0, 10, 0))
        .op(lb(0, 10, 0))
        .op(lhu(0, 10, 2));
    // Reads of x0 after all of that still see 0.
    a.op(or(5, 0, 0)).op(addi(6, 0, 0)).op(sub(7, 1, 0));
    a.jal(0, "skip").op(addi(8, 0, 1)).label("skip");
    a.la(11, "back")
        .op(jalr(0, 11, 0))
        .op(addi(9, 0, 1))
        .label("back");
    a.op(terminate(0));
    let words = a.finish();
    let state = run_program(program_with_data(&words, &[(DATA, &data)]), &[]).unwrap();
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(state.regs[0], 0);
    assert_eq!(state.regs[5], 0);
    assert_eq!(state.regs[6], 0);
    assert_eq!(state.regs[7], 7);
    assert_eq!(state.regs[8], 0, "jal x0 must still jump");
    assert_eq!(state.regs[9], 0, "jalr x0 must still jump");
    assert_eq!(state.instret, words.len() as u64 - 2);
}

#[test]
fn loads_sign_and_zero_extend() {
    let data: [u8; 16] = [
        0x80, 0x7f, 0x01, 0xff, 0x00, 0x80, 0xff, 0x7f, 0x78, 0x56, 0x34, 0x12, 0xef, 0xbe, 0xad,
        0xde,
    ];
    let mut words = li(10, DATA).to_vec();
    words.extend([
        lb(1, 10, 0),
        lbu(2, 10, 0),
        lb(3, 10, 1),
        lh(4, 10, 4),
        lhu(5, 10, 4),
        lh(6, 10, 6),
        lw(7, 10, 8),
        lw(8, 10, 12),
        lb(9, 10, 3),
        lh(11, 10, 2),
        lhu(12, 10, 2),
    ]);
    words.extend(li(13, DATA + 16));
    words.extend([
        lw(14, 13, -8),
        lbu(15, 13, -1),
        lh(16, 13, -4),
        terminate(0),
    ]);
    let state = run_program(program_with_data(&words, &[(DATA, &data)]), &[]).unwrap();
    let expect = [
        (1, 0xffff_ff80),
        (2, 0x80),
        (3, 0x7f),
        (4, 0xffff_8000),
        (5, 0x8000),
        (6, 0x7fff),
        (7, 0x1234_5678),
        (8, 0xdead_beef),
        (9, 0xffff_ffff),
        (11, 0xffff_ff01),
        (12, 0xff01),
        (14, 0x1234_5678),
        (15, 0xde),
        (16, 0xffff_beef),
    ];
    for (r, v) in expect {
        assert_eq!(state.regs[r], v, "x{r}");
    }
    assert_eq!(state.instret, words.len() as u64);
}

#[test]
fn stores_write_only_their_bytes() {
    let fill = [0x11u8; 20];
    let mut words = li(10, DATA).to_vec();
    words.extend(li(1, 0xdead_beef));
    words.extend([
        sw(1, 10, 0),
        sh(1, 10, 4),
        sb(1, 10, 7),
        sh(1, 10, 10),
        sb(1, 10, 15),
        addi(11, 10, 20),
        sw(1, 11, -4),
        lw(2, 10, 0),
        lhu(3, 10, 4),
        lbu(4, 10, 7),
        terminate(0),
    ]);
    let state = run_program(program_with_data(&words, &[(DATA, &fill)]), &[]).unwrap();
    assert_eq!(
        mem(&state, DATA, 20),
        [
            0xef, 0xbe, 0xad, 0xde, 0xef, 0xbe, 0x11, 0xef, 0x11, 0x11, 0xef, 0xbe, 0x11, 0x11,
            0x11, 0xef, 0xef, 0xbe, 0xad, 0xde
        ]
    );
    assert_eq!(
        mem(&state, DATA + 20, 4),
        [0, 0, 0, 0],
        "nothing written past the stores"
    );
    assert_eq!(mem(&state, DATA - 4, 4), [0, 0, 0, 0]);
    assert_eq!(state.regs[2], 0xdead_beef);
    assert_eq!(state.regs[3], 0xbeef);
    assert_eq!(state.regs[4], 0xef);
}

#[test]
fn store_into_text_does_not_change_code() {
    let mut words = li(1, pc_at(5)).to_vec();
    words.extend(li(2, terminate(7)));
    words.extend([sw(2, 1, 0), addi(5, 0, 9), lw(6, 1, 0), terminate(0)]);
    let state = run_ok(&words);
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(state.regs[5], 9);
    assert_eq!(state.regs[6], terminate(7), "memory holds the stored word");
    assert_eq!(state.instret, 8);
}

/// `li x1, a; li x2, b; br x1, x2, +12; addi x5, x0, 1; terminate 0; addi x5, x0, 2; terminate 0`.
fn branch_taken(br: IFn, a: u32, b: u32) -> bool {
    let mut words = li(1, a).to_vec();
    words.extend(li(2, b));
    words.extend([
        br(1, 2, 12),
        addi(5, 0, 1),
        terminate(0),
        addi(5, 0, 2),
        terminate(0),
    ]);
    let state = run_ok(&words);
    assert_eq!(state.instret, 7);
    assert_eq!(state.exit_code, Some(0));
    match state.regs[5] {
        1 => {
            assert_eq!(state.pc, pc_at(6));
            false
        }
        2 => {
            assert_eq!(state.pc, pc_at(8));
            true
        }
        other => panic!("x5 = {other}"),
    }
}

#[test]
fn conditional_branches() {
    let cases: &[BranchCase] = &[
        (
            "beq",
            beq,
            &[
                (5, 5, true),
                (5, 6, false),
                (NEG1, NEG1, true),
                (0, MIN, false),
            ],
        ),
        ("bne", bne, &[(5, 5, false), (5, 6, true), (0, MIN, true)]),
        (
            "blt",
            blt,
            &[
                (NEG1, 1, true),
                (1, NEG1, false),
                (5, 5, false),
                (MIN, MAX, true),
                (MAX, MIN, false),
            ],
        ),
        (
            "bge",
            bge,
            &[
                (NEG1, 1, false),
                (1, NEG1, true),
                (5, 5, true),
                (MIN, MIN, true),
                (MIN, MAX, false),
            ],
        ),
        (
            "bltu",
            bltu,
            &[
                (NEG1, 1, false),
                (1, NEG1, true),
                (5, 5, false),
                (0, 1, true),
                (MIN, MAX, false),
            ],
        ),
        (
            "bgeu",
            bgeu,
            &[
                (NEG1, 1, true),
                (1, NEG1, false),
                (5, 5, true),
                (0, NEG1, false),
                (MIN, MAX, true),
            ],
        ),
    ];
    for (name, br, table) in cases {
        for &(a, b, want) in table.iter() {
            assert_eq!(branch_taken(*br, a, b), want, "{name} {a:#x}, {b:#x}");
        }
    }
}

#[test]
fn backward_branch_loop() {
    let state = run_ok(&[
        addi(1, 0, 10),
        addi(2, 0, 0),
        add(2, 2, 1),
        addi(1, 1, -1),
        bne(1, 0, -8),
        terminate(0),
    ]);
    assert_eq!(state.regs[2], 55);
    assert_eq!(state.regs[1], 0);
    assert_eq!(state.instret, 2 + 10 * 3 + 1);
    assert_eq!(state.pc, pc_at(5));
}

#[test]
fn jal_links_and_jumps_forward_and_backward() {
    let state = run_ok(&[
        jal(1, 12),
        addi(5, 0, 1),
        addi(5, 0, 2),
        addi(6, 0, 3),
        terminate(0),
    ]);
    assert_eq!(state.regs[1], pc_at(1));
    assert_eq!(state.regs[5], 0);
    assert_eq!(state.regs[6], 3);
    assert_eq!((state.instret, state.pc), (3, pc_at(4)));

    let state = run_ok(&[jal(0, 12), addi(6, 0, 7), terminate(0), jal(1, -8)]);
    assert_eq!(state.regs[1], pc_at(4));
    assert_eq!(state.regs[6], 7);
    assert_eq!((state.instret, state.pc), (4, pc_at(2)));
}

#[test]
fn jalr_clears_bit_zero_and_links() {
    // Odd target: bit 0 is cleared.
    let mut words = li(5, pc_at(4) + 1).to_vec();
    words.extend([jalr(1, 5, 0), addi(6, 0, 1), addi(7, 0, 2), terminate(0)]);
    let state = run_ok(&words);
    assert_eq!(state.regs[1], pc_at(3));
    assert_eq!(state.regs[6], 0);
    assert_eq!(state.regs[7], 2);
    assert_eq!(state.instret, 5);

    // Negative offset.
    let mut words = li(5, pc_at(6)).to_vec();
    words.extend([jalr(1, 5, -8), addi(6, 0, 1), addi(7, 0, 2), terminate(0)]);
    let state = run_ok(&words);
    assert_eq!(state.regs[1], pc_at(3));
    assert_eq!((state.regs[6], state.regs[7]), (0, 2));

    // rd == rs1: the target uses the old value.
    let mut words = li(1, pc_at(4)).to_vec();
    words.extend([jalr(1, 1, 0), addi(6, 0, 1), addi(7, 0, 2), terminate(0)]);
    let state = run_ok(&words);
    assert_eq!(state.regs[1], pc_at(3));
    assert_eq!((state.regs[6], state.regs[7]), (0, 2));
    assert_eq!(state.instret, 5);
}

#[test]
fn jalr_ignores_funct3_like_the_reference() {
    for funct3 in [1u32, 3, 7] {
        let mut words = li(5, pc_at(4)).to_vec();
        words.extend([
            jalr(1, 5, 0) | (funct3 << 12),
            addi(6, 0, 1),
            addi(7, 0, 2),
            terminate(0),
        ]);
        let state = run_ok(&words);
        assert_eq!(state.regs[1], pc_at(3), "funct3 {funct3}");
        assert_eq!((state.regs[6], state.regs[7]), (0, 2), "funct3 {funct3}");
    }
}

#[test]
fn call_and_return() {
    let mut a = Asm::new();
    a.op(addi(10, 0, 3))
        .jal(1, "double")
        .op(addi(11, 10, 0))
        .jal(1, "double")
        .op(terminate(0));
    a.label("double").op(add(10, 10, 10)).op(jalr(0, 1, 0));
    let state = run_ok(&a.finish());
    assert_eq!(state.regs[11], 6);
    assert_eq!(state.regs[10], 12);
    assert_eq!(state.regs[1], pc_at(4));
    assert_eq!(state.instret, 9);
}

#[test]
fn system_instructions_terminate_with_exit_code_2() {
    let words = [
        ECALL,
        EBREAK,
        csr(2, 10, 0xc00, 0), // rdcycle a0 (csrrs)
        csr(1, 5, 0xc00, 0),  // csrrw t0, cycle, x0
        csr(1, 0, 0x300, 1),  // csrrw x0, mstatus, ra
        csr(3, 0, 0x300, 0),  // csrrc x0, mstatus, x0
        csr(5, 0, 0x300, 0),  // csrrwi x0, mstatus, 0
        0x3020_0073,          // mret
    ];
    for word in words {
        let state = run_ok(&[addi(1, 0, 1), word, addi(2, 0, 2), terminate(0)]);
        assert_eq!(state.exit_code, Some(2), "{word:#010x}");
        assert_eq!(state.instret, 2, "{word:#010x}");
        assert_eq!(state.pc, pc_at(1), "{word:#010x}");
        assert_eq!(state.regs[2], 0, "{word:#010x}");
        assert_eq!(
            state.regs[5], 0,
            "{word:#010x}: the CSR instruction must not write rd"
        );
        assert_eq!(
            state.regs[10], 0,
            "{word:#010x}: the CSR instruction must not write rd"
        );
    }
}

#[test]
fn unimp_and_csrrw_x0_x0_are_nops() {
    for word in [UNIMP, csr(1, 0, 0x300, 0), csr(1, 0, 0xfff, 0)] {
        let state = run_ok(&[addi(1, 0, 1), word, addi(2, 0, 2), terminate(0)]);
        assert_eq!(state.exit_code, Some(0), "{word:#010x}");
        assert_eq!(state.instret, 4);
        assert_eq!(state.regs[2], 2);
    }
}

#[test]
fn fence_is_a_nop_and_fence_i_is_illegal() {
    for word in [FENCE, 0x0ff0_000f, 0x8330_000f, 0x0000_000f, 0x0ff0_0f8f] {
        let state = run_ok(&[addi(1, 0, 1), word, addi(2, 0, 2), terminate(0)]);
        assert_eq!(state.exit_code, Some(0), "{word:#010x}");
        assert_eq!(state.instret, 4);
        assert_eq!(state.regs[2], 2);
    }
    let e = run_exec_err(&[addi(1, 0, 1), FENCE_I, terminate(0)], &[]);
    assert_eq!(e.kind, ExecErrorKind::IllegalInstruction { word: FENCE_I });
    assert_eq!((e.pc, e.instret), (pc_at(1), 1));
}

#[test]
fn terminate_exit_codes() {
    for code in [0u32, 1, 2, 42, 255] {
        let state = run_ok(&[addi(1, 0, 1), terminate(code), addi(2, 0, 2)]);
        assert_eq!(state.exit_code, Some(code));
        assert_eq!(state.instret, 2, "terminate counts");
        assert_eq!(state.pc, pc_at(1), "pc stays at the terminate");
        assert!(state.is_terminated());
        assert_eq!(state.regs[2], 0);
    }
    // Exit codes above 255 are not valid terminate instructions.
    let e = run_exec_err(&[terminate(256)], &[]);
    assert_eq!(
        e.kind,
        ExecErrorKind::IllegalInstruction {
            word: terminate(256)
        }
    );
}

#[test]
fn instret_counts_every_instruction_including_nops() {
    let state = run_ok(&[
        NOP,
        UNIMP,
        FENCE,
        addi(0, 0, 1),
        lui(0, 1),
        auipc(0, 1),
        add(0, 0, 0),
        terminate(0),
    ]);
    assert_eq!(state.instret, 8);
    assert_eq!(state.regs, [0; 32]);
    assert_eq!(state.pc, pc_at(7));
}

/// A Rust model of the register-register operations, independent of rvx.
fn model(op: usize, a: u32, b: u32) -> u32 {
    let (sa, sb) = (a as i32 as i64, b as i32 as i64);
    let (ua, ub) = (a as u64, b as u64);
    match op {
        0 => a.wrapping_add(b),
        1 => a.wrapping_sub(b),
        2 => a.wrapping_shl(b),
        3 => (sa < sb) as u32,
        4 => (a < b) as u32,
        5 => a ^ b,
        6 => a.wrapping_shr(b),
        7 => (a as i32).wrapping_shr(b) as u32,
        8 => a | b,
        9 => a & b,
        10 => a.wrapping_mul(b),
        11 => ((sa * sb) >> 32) as u32,
        12 => ((sa as i128 * ub as i128) >> 32) as u32,
        13 => ((ua * ub) >> 32) as u32,
        14 => match b {
            0 => u32::MAX,
            _ => (sa / sb) as i32 as u32,
        },
        15 => a.checked_div(b).unwrap_or(u32::MAX),
        16 => match b {
            0 => a,
            _ => (sa % sb) as u32,
        },
        _ => a.checked_rem(b).unwrap_or(a),
    }
}

#[test]
fn register_ops_match_a_model_on_random_operands() {
    let ops: [RFn; 18] = [
        add, sub, sll, slt, sltu, xor, srl, sra, or, and, mul, mulh, mulhsu, mulhu, div, divu, rem,
        remu,
    ];
    let special = [0u32, 1, 2, 31, 32, NEG1, neg(-2), MIN, MAX, 0x8000_0001];
    let mut rng = TestRng::new(7);
    let mut cases = Vec::new();
    for &a in &special {
        for &b in &special {
            cases.push((a, b));
        }
    }
    for _ in 0..60 {
        cases.push((rng.next_u32(), rng.next_u32()));
    }
    for (k, op) in ops.iter().enumerate() {
        // One program per operation: every case stores its result at DATA + 4*i.
        let mut words = li(10, DATA).to_vec();
        for &(a, b) in &cases {
            words.extend(li(1, a));
            words.extend(li(2, b));
            words.extend([op(3, 1, 2), sw(3, 10, 0), addi(10, 10, 4)]);
        }
        words.push(terminate(0));
        let state = run_ok(&words);
        assert_eq!(state.instret, words.len() as u64);
        for (i, &(a, b)) in cases.iter().enumerate() {
            let got = mem_u32(&state, DATA + 4 * i as u32);
            assert_eq!(got, model(k, a, b), "op #{k} on {a:#010x}, {b:#010x}");
        }
    }
}
