//! What `rvx run` prints: a human summary or one JSON object.

use crate::backend::rvr::CompileReport;
use crate::backend::BackendKind;
use crate::metering::{CostReport, Segment};
use crate::state::VmState;
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

/// The result of one `rvx run`.
#[derive(Debug, Serialize)]
pub(super) struct RunReport {
    /// `"terminated"` or `"suspended"`.
    status: &'static str,
    /// The guest's exit code, `null` while suspended.
    exit_code: Option<u32>,
    /// Total instructions executed (including any before a resume).
    instret: u64,
    /// The pc after the run.
    pc: u32,
    /// All public-value bytes as hex.
    public_values: String,
    /// Execution time in milliseconds (loading and setup excluded).
    wall_ms: f64,
    /// Millions of guest instructions per second executed in this run.
    mips: f64,
    /// The backend that ran.
    backend: String,
    /// The execution mode.
    mode: &'static str,
    /// Segments closed by a metered run.
    #[serde(skip_serializing_if = "Option::is_none")]
    segments: Option<Vec<Segment>>,
    /// The cost of a metered-cost run.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<u64>,
    /// Whether a metered-cost run stopped because the cost exceeded its maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_exceeded: Option<bool>,
    /// Milliseconds spent compiling for this run (0 when the code came from the cache).
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_ms: Option<f64>,
    /// Whether a compiling backend had its code ready, compiling nothing: from the disk cache
    /// or precompiled into rvx.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_hit: Option<bool>,
    /// Whether the recompiler ran code precompiled into rvx (a bundled guest).
    #[serde(skip_serializing_if = "Option::is_none")]
    precompiled: Option<bool>,
}

/// What a metered mode adds to the report.
pub(super) enum Metering {
    /// Pure mode.
    None,
    /// Metered mode: the segments closed in this run.
    Segments(Vec<Segment>),
    /// Metered-cost mode.
    Cost(CostReport),
}

impl RunReport {
    pub(super) fn new(
        state: &VmState,
        executed: u64,
        wall: Duration,
        backend: BackendKind,
        mode: &'static str,
        metering: Metering,
        compiled: Option<CompileReport>,
    ) -> RunReport {
        let seconds = wall.as_secs_f64();
        let (segments, cost) = match metering {
            Metering::None => (None, None),
            Metering::Segments(segments) => (Some(segments), None),
            Metering::Cost(report) => (None, Some(report)),
        };
        RunReport {
            status: if state.is_terminated() {
                "terminated"
            } else {
                "suspended"
            },
            exit_code: state.exit_code,
            instret: state.instret,
            pc: state.pc,
            public_values: hex::encode(&state.public_values),
            wall_ms: seconds * 1e3,
            mips: if seconds > 0.0 {
                executed as f64 / seconds / 1e6
            } else {
                0.0
            },
            backend: backend.to_string(),
            mode,
            segments,
            cost: cost.map(|c| c.cost),
            cost_exceeded: cost.map(|c| c.exceeded),
            compile_ms: compiled.map(|c| c.compile_time.as_secs_f64() * 1e3),
            cache_hit: compiled.map(|c| c.cache_hit),
            precompiled: compiled.map(|c| c.precompiled),
        }
    }

    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a run report always serialises")
    }

    pub(super) fn to_human(&self) -> String {
        let mut s = String::new();
        match self.exit_code {
            Some(0) => writeln!(s, "exit code:     0 (success)"),
            Some(code) => writeln!(s, "exit code:     {code} (guest failure)"),
            None => writeln!(s, "suspended:     after {} instructions", self.instret),
        }
        .ok();
        writeln!(s, "instret:       {}", self.instret).ok();
        writeln!(s, "pc:            {:#010x}", self.pc).ok();
        writeln!(s, "public values: {}", self.public_values).ok();
        let words: Vec<String> = self
            .public_values
            .as_bytes()
            .chunks(8)
            .map(|hex| {
                let bytes = hex::decode(hex).unwrap_or_default();
                let mut word = [0u8; 4];
                word[..bytes.len().min(4)].copy_from_slice(&bytes[..bytes.len().min(4)]);
                u32::from_le_bytes(word).to_string()
            })
            .collect();
        writeln!(s, "  as u32 words: [{}]", words.join(", ")).ok();
        if let Some(segments) = &self.segments {
            writeln!(s, "segments:      {}", segments.len()).ok();
            for (i, seg) in segments.iter().enumerate() {
                let rows: u64 = seg.trace_heights.iter().map(|&h| u64::from(h)).sum();
                let over = seg
                    .over_limit
                    .as_deref()
                    .map(|l| format!(" (over limit: {l})"))
                    .unwrap_or_default();
                writeln!(
                    s,
                    "  #{i:<4} instret {:>12} + {:>10} insns, {rows} rows{over}",
                    seg.instret_start, seg.num_insns
                )
                .ok();
            }
        }
        if let (Some(ms), Some(hit)) = (self.compile_ms, self.cache_hit) {
            let source = match (self.precompiled, hit) {
                (Some(true), _) => "precompiled into rvx",
                (_, true) => "from the cache",
                (_, false) => "compiled",
            };
            writeln!(s, "compile:       {ms:.1} ms ({source})").ok();
        }
        if let Some(cost) = self.cost {
            let note = if self.cost_exceeded == Some(true) {
                " (exceeded the maximum: stopped)"
            } else {
                ""
            };
            writeln!(s, "cost:          {cost}{note}").ok();
        }
        writeln!(
            s,
            "time:          {:.3} ms ({:.1} MIPS, {} backend, {} mode)",
            self.wall_ms, self.mips, self.backend, self.mode
        )
        .ok();
        s
    }
}
