//! test386, the whole-CPU conformance ROM (`../shared/conformance/test386/README.md`), run in
//! process through `webx86::rom` and judged as `check-test386.py` judges `webx86 rom`:
//! the POST codes are exactly the script's `EXPECTED_POST` (read from the script, so the list is
//! kept in one place) ending in FF, the CPU halts with interrupts disabled, and the port 0xE9
//! output equals `test386-EE-reference.txt` byte for byte.
//!
//! About 80 million guest instructions: without optimisation this takes minutes, so a debug
//! build only lists the test as ignored. Run it with
//! `cargo test --release --test test386` (scripts/test.sh does). `WEBX86_TEST386_DIR` points
//! at another copy of the test386 folder.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use webx86::rom::{load_rom, rom_cpu, run_rom, CapturedOutput, RomEnd};

/// Far more than the ~80 million instructions test386 takes; a run past this is stuck.
const MAX_INSTRUCTIONS: u64 = 1_000_000_000;
/// After POST FF the ROM halts at once; this much slack, as check-test386.py's grace.
const AFTER_FF_INSTRUCTIONS: u64 = 1_000_000;
/// Wall-clock limit, as check-test386.py's `--timeout`.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Instructions per run slice between checks of the limits above.
const SLICE: u64 = 1 << 20;

/// How the run ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ended(RomEnd),
    Timeout,
    NoHaltAfterFf,
}

fn test386_dir() -> PathBuf {
    match std::env::var_os("WEBX86_TEST386_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/test386"),
    }
}

fn read(path: &PathBuf, what: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {what} {}: {e} (test386 lives in ../shared beside the checkout, or set \
             WEBX86_TEST386_DIR)",
            path.display()
        )
    })
}

/// `EXPECTED_POST = [0x00, 0x01, ...]` from check-test386.py.
fn expected_post(script: &PathBuf) -> Vec<u8> {
    let text = String::from_utf8_lossy(&read(script, "the test386 check script")).into_owned();
    let list = text
        .lines()
        .skip_while(|line| !line.starts_with("EXPECTED_POST"))
        .collect::<Vec<_>>()
        .join(" ");
    let list = list
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(inside, _)| inside)
        .unwrap_or_else(|| panic!("no EXPECTED_POST list in {}", script.display()));
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let hex = s.trim_start_matches("0x").trim_start_matches("0X");
            u8::from_str_radix(hex, 16)
                .unwrap_or_else(|_| panic!("bad POST code {s:?} in {}", script.display()))
        })
        .collect()
}

fn hex_list(codes: &[u8]) -> String {
    codes
        .iter()
        .map(|c| format!("{c:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What is wrong with the POST sequence, worded as check-test386.py words it.
fn post_failure(posts: &[u8], expected: &[u8]) -> Option<String> {
    if posts == expected {
        return None;
    }
    let n = posts
        .iter()
        .zip(expected)
        .take_while(|(got, want)| got == want)
        .count();
    let show = |codes: &[u8]| {
        codes
            .get(n)
            .map_or("end".to_string(), |c| format!("{c:02X}"))
    };
    Some(if n == posts.len() && n < expected.len() {
        let last = posts
            .last()
            .map_or("(none)".to_string(), |c| format!("{c:02X}"));
        format!(
            "stopped after POST {last}; next expected POST {:02X}",
            expected[n]
        )
    } else {
        format!(
            "POST sequence differs at position {}: expected {}, got {}",
            n + 1,
            show(expected),
            show(posts)
        )
    })
}

/// Lines split at `\n`, each keeping its `\n`.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// The first line where the output differs from the reference, as check-test386.py shows it.
fn output_failure(got: &[u8], reference: &[u8]) -> Option<String> {
    if got == reference {
        return None;
    }
    let (g, r) = (lines(got), lines(reference));
    let show = |line: Option<&&[u8]>, end: &str| match line {
        None => end.to_string(),
        Some(line) => {
            let text = String::from_utf8_lossy(line);
            match text.strip_suffix('\n') {
                Some(text) => format!("{text:?}"),
                None => format!("{text:?} (no newline at end)"),
            }
        }
    };
    let at = (0..g.len().max(r.len())).find(|&i| g.get(i) != r.get(i))?;
    Some(format!(
        "E9 output differs from reference at line {}:\n  expected: {}\n  got:      {}",
        at + 1,
        show(r.get(at), "<end of reference>"),
        show(g.get(at), "<end of output>")
    ))
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "80 M guest instructions: run with `cargo test --release --test test386`"
)]
fn test386_passes() {
    let dir = test386_dir();
    let rom_path = dir.join("test386.bin");
    let rom = load_rom(&rom_path.to_string_lossy()).unwrap_or_else(|e| {
        panic!("{e} (test386 lives in ../shared beside the checkout, or set WEBX86_TEST386_DIR)")
    });
    let reference = read(
        &dir.join("test386-EE-reference.txt"),
        "the reference output",
    );
    let expected = expected_post(&dir.join("check-test386.py"));

    let output = CapturedOutput::default();
    let mut cpu = rom_cpu(&rom, output.clone(), 0x190);
    let started = Instant::now();
    let mut ff_at = None;
    let end = loop {
        let until = cpu
            .state
            .retired
            .saturating_add(SLICE)
            .min(MAX_INSTRUCTIONS);
        let end = run_rom(&mut cpu, until);
        if end != RomEnd::Budget || cpu.state.retired >= MAX_INSTRUCTIONS {
            break Outcome::Ended(end);
        }
        if started.elapsed() > TIMEOUT {
            break Outcome::Timeout;
        }
        if ff_at.is_none() && output.buffers().post.contains(&0xFF) {
            ff_at = Some(cpu.state.retired);
        }
        if ff_at.is_some_and(|at| cpu.state.retired - at > AFTER_FF_INSTRUCTIONS) {
            break Outcome::NoHaltAfterFf;
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let retired = cpu.state.retired;
    let captured = output.buffers();
    eprintln!(
        "test386: {retired} instructions in {secs:.2} s ({:.1} guest MIPS); POST codes: {}",
        retired as f64 / secs.max(1e-9) / 1e6,
        hex_list(&captured.post)
    );

    let mut failures = Vec::new();
    failures.extend(post_failure(&captured.post, &expected));
    if end != Outcome::Ended(RomEnd::Halted) {
        failures.push(format!(
            "the CPU did not halt with interrupts disabled (run ended: {end:?}, after {retired} \
             instructions; time limit {} s)",
            TIMEOUT.as_secs()
        ));
    }
    failures.extend(output_failure(&captured.debug, &reference));
    assert!(
        failures.is_empty(),
        "test386 failed (last POST code {}):\n{}",
        captured
            .post
            .last()
            .map_or("none".to_string(), |c| format!("{c:02X}")),
        failures.join("\n")
    );
}

#[test]
fn judging_reports_the_first_difference() {
    assert_eq!(post_failure(&[0, 1, 0xFF], &[0, 1, 0xFF]), None);
    assert_eq!(
        post_failure(&[0, 1], &[0, 1, 2]).as_deref(),
        Some("stopped after POST 01; next expected POST 02")
    );
    assert_eq!(
        post_failure(&[0, 3], &[0, 1, 2]).as_deref(),
        Some("POST sequence differs at position 2: expected 01, got 03")
    );
    assert_eq!(output_failure(b"a\nb\n", b"a\nb\n"), None);
    assert_eq!(
        output_failure(b"a\nc\n", b"a\nb\n").as_deref(),
        Some("E9 output differs from reference at line 2:\n  expected: \"b\"\n  got:      \"c\"")
    );
    assert_eq!(
        output_failure(b"a\n", b"a\nb").as_deref(),
        Some(
            "E9 output differs from reference at line 2:\n  expected: \"b\" (no newline at \
             end)\n  got:      <end of output>"
        )
    );
    let expected = expected_post(&test386_dir().join("check-test386.py"));
    assert_eq!(expected.first(), Some(&0x00));
    assert_eq!(expected.last(), Some(&0xFF));
}
