//! The execution config: a configuration's extensions turned into the tables backends use.
//!
//! - **Executors**, in registration order: the system's phantom executor first (index 0), then
//!   each extension's in the configuration's order.
//! - **Chip table**, in the reference zkVM's order: the four leading system chips (program,
//!   connector, memory boundary, Merkle tree), then every other chip in *reverse* insertion
//!   order, where the system inserts its chips first and each extension then inserts its own
//!   (a shared chip, such as a lookup table, where it is first declared). This is the order of
//!   the reference's verifying key, so trace heights line up with its segments.
//! - **Opcode map**: opcode to executor; two executors claiming one opcode is an error naming
//!   both.

use super::SystemConfig;
use crate::error::ConfigError;
use crate::extension::{system, ChipSpec, CustomExecutor, Decoded, Extension, Opcode};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One executor of the inventory.
#[derive(Clone)]
pub struct ExecutorEntry {
    /// Its name.
    pub name: &'static str,
    /// The extension that registered it (`"system"` for the phantom executor).
    pub extension: &'static str,
    /// The index in the chip table of the chip it adds rows to.
    pub air_idx: usize,
    /// The opcodes it handles, with mnemonics.
    pub opcodes: Vec<(Opcode, &'static str)>,
    /// The implementation of its custom instructions, if it has any.
    pub custom: Option<Arc<dyn CustomExecutor>>,
    /// The chip-table indices of its [`crate::extension::ExecutorSpec::extra_chips`].
    pub extra_airs: Vec<usize>,
}

impl ExecutorEntry {
    /// The chip-table index of the executor's chip `chip` as its instructions report rows
    /// ([`crate::extension::Machine::add_rows`]): 0 is its own chip, `i + 1` its `i`-th extra
    /// chip.
    pub fn report_chip(&self, chip: usize) -> Option<usize> {
        match chip {
            0 => Some(self.air_idx),
            i => self.extra_airs.get(i - 1).copied(),
        }
    }
}

impl fmt::Debug for ExecutorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorEntry")
            .field("name", &self.name)
            .field("extension", &self.extension)
            .field("air_idx", &self.air_idx)
            .field("opcodes", &self.opcodes)
            .field("custom", &self.custom.is_some())
            .field("extra_airs", &self.extra_airs)
            .finish()
    }
}

/// The chips of a configuration, in chip-table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipTable {
    chips: Vec<ChipSpec>,
}

impl ChipTable {
    /// The chips in order.
    pub fn chips(&self) -> &[ChipSpec] {
        &self.chips
    }

    /// The index of the chip called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.chips.iter().position(|c| c.name == name)
    }

    /// Number of chips.
    pub fn len(&self) -> usize {
        self.chips.len()
    }

    /// Whether the table is empty (never, for a valid configuration).
    pub fn is_empty(&self) -> bool {
        self.chips.is_empty()
    }
}

/// How a fast backend emits one custom executor's instructions.
#[derive(Clone)]
pub struct CustomEmitter {
    /// The executor's index in the inventory.
    pub executor_idx: usize,
    /// The executor's name.
    pub name: &'static str,
    /// The opcodes it handles.
    pub opcodes: Vec<Opcode>,
    /// The chip its instructions meter into, when a chip mapping was given.
    pub air_idx: Option<usize>,
    /// The implementation, which also says how to emit each instruction.
    pub executor: Arc<dyn CustomExecutor>,
}

impl fmt::Debug for CustomEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomEmitter")
            .field("executor_idx", &self.executor_idx)
            .field("name", &self.name)
            .field("opcodes", &self.opcodes)
            .field("air_idx", &self.air_idx)
            .finish()
    }
}

/// The recompiler's view of a custom executor.
pub type RvrExtension = CustomEmitter;
/// The JIT's view of a custom executor.
pub type JitExtension = CustomEmitter;

/// A configuration's executors, chips and opcode map.
#[derive(Clone)]
pub struct ExecutionConfig {
    system: SystemConfig,
    extensions: Vec<Arc<dyn Extension>>,
    executors: Vec<ExecutorEntry>,
    opcodes: HashMap<Opcode, usize>,
    chips: ChipTable,
}

impl fmt::Debug for ExecutionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionConfig")
            .field("system", &self.system)
            .field("extensions", &self.extension_names())
            .field("executors", &self.executors)
            .field("chips", &self.chips)
            .finish()
    }
}

impl ExecutionConfig {
    /// Builds the tables for `extensions` (in registration order) on `system`.
    pub fn new(
        system: SystemConfig,
        extensions: Vec<Arc<dyn Extension>>,
    ) -> Result<ExecutionConfig, ConfigError> {
        system.validate()?;
        let mut inserted: Vec<ChipSpec> = system::inserted_chips();
        let mut pending = vec![("system", system::executors())];
        for extension in &extensions {
            for chip in extension.chips() {
                match inserted.iter().find(|c| c.name == chip.name) {
                    Some(existing) if existing.shared && chip.shared => {}
                    Some(_) => {
                        return Err(ConfigError::DuplicateChip {
                            chip: chip.name,
                            extension: extension.name(),
                        })
                    }
                    None => inserted.push(chip),
                }
            }
            pending.push((extension.name(), extension.executors()));
        }
        let mut chips = system::leading_chips();
        chips.extend(inserted.into_iter().rev());
        let chips = ChipTable { chips };

        let mut executors = Vec::new();
        let mut opcodes = HashMap::new();
        for (extension, specs) in pending {
            for spec in specs {
                let air_idx =
                    chips
                        .index_of(&spec.chip)
                        .ok_or_else(|| ConfigError::UnknownChip {
                            chip: spec.chip.clone(),
                            executor: spec.name,
                        })?;
                let extra_airs = spec
                    .extra_chips
                    .iter()
                    .map(|chip| {
                        chips
                            .index_of(chip)
                            .ok_or_else(|| ConfigError::UnknownChip {
                                chip: chip.clone(),
                                executor: spec.name,
                            })
                    })
                    .collect::<Result<Vec<usize>, ConfigError>>()?;
                let executor_idx = executors.len();
                for &(opcode, mnemonic) in &spec.opcodes {
                    if let Some(&owner) = opcodes.get(&opcode) {
                        let first: &ExecutorEntry = &executors[owner];
                        return Err(ConfigError::OpcodeConflict {
                            opcode,
                            first: format!("{}::{}", first.extension, first.name),
                            second: format!("{extension}::{} ({mnemonic})", spec.name),
                        });
                    }
                    opcodes.insert(opcode, executor_idx);
                }
                executors.push(ExecutorEntry {
                    name: spec.name,
                    extension,
                    air_idx,
                    opcodes: spec.opcodes,
                    custom: spec.custom,
                    extra_airs,
                });
            }
        }
        Ok(ExecutionConfig {
            system,
            extensions,
            executors,
            opcodes,
            chips,
        })
    }

    /// The system configuration.
    pub fn system(&self) -> &SystemConfig {
        &self.system
    }

    /// The extensions' names, in registration order.
    pub fn extension_names(&self) -> Vec<&'static str> {
        self.extensions.iter().map(|e| e.name()).collect()
    }

    /// The executors, in registration order.
    pub fn executors(&self) -> &[ExecutorEntry] {
        &self.executors
    }

    /// The chip table.
    pub fn chips(&self) -> &ChipTable {
        &self.chips
    }

    /// The executor handling `opcode`.
    pub fn executor_of(&self, opcode: Opcode) -> Option<usize> {
        self.opcodes.get(&opcode).copied()
    }

    /// The mnemonic of `opcode`, if an executor handles it.
    pub fn mnemonic(&self, opcode: Opcode) -> Option<&'static str> {
        let executor = &self.executors[self.executor_of(opcode)?];
        executor
            .opcodes
            .iter()
            .find(|(o, _)| *o == opcode)
            .map(|(_, m)| *m)
    }

    /// Every opcode with its executor index, sorted by opcode.
    pub fn opcode_map(&self) -> Vec<(Opcode, usize)> {
        let mut map: Vec<(Opcode, usize)> = self.opcodes.iter().map(|(&o, &e)| (o, e)).collect();
        map.sort_unstable();
        map
    }

    /// For each executor, the index of the chip it adds rows to.
    pub fn executor_idx_to_air_idx(&self) -> Vec<usize> {
        self.executors.iter().map(|e| e.air_idx).collect()
    }

    /// Decodes `word` at `pc` with the first extension that claims it.
    pub fn decode(&self, word: u32, pc: u32) -> Option<Decoded> {
        self.extensions.iter().find_map(|e| e.decode(word, pc))
    }

    fn custom_emitters(&self, air_idx: Option<&[usize]>) -> Vec<CustomEmitter> {
        self.executors
            .iter()
            .enumerate()
            .filter_map(|(executor_idx, e)| {
                Some(CustomEmitter {
                    executor_idx,
                    name: e.name,
                    opcodes: e.opcodes.iter().map(|(o, _)| *o).collect(),
                    air_idx: air_idx.and_then(|table| table.get(executor_idx).copied()),
                    executor: e.custom.clone()?,
                })
            })
            .collect()
    }

    /// The recompiler's emission table; see [`crate::VmConfig::create_rvr_extensions`].
    pub fn rvr_extensions(&self, air_idx: Option<&[usize]>) -> Vec<RvrExtension> {
        self.custom_emitters(air_idx)
    }

    /// The JIT's emission table; see [`crate::VmConfig::create_jit_extensions`].
    pub fn jit_extensions(&self, air_idx: Option<&[usize]>) -> Vec<JitExtension> {
        self.custom_emitters(air_idx)
    }
}
