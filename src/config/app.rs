//! Configurations loaded from the `openvm.toml` files guest projects carry.
//!
//! The file's `[app_vm_config]` table lists the extensions (`[app_vm_config.rv32i]`, `rv32m`,
//! `io`, `keccak`, `sha2`, `bigint`, ...) and the system settings (`[app_vm_config.system.config]`: `num_public_values`,
//! `memory_config.pointer_max_bits`, ...). Extensions are registered in the reference zkVM's
//! fixed order (rv32i, io, keccak, sha2, rv32m, bigint, modular, fp2, ecc, pairing), whatever
//! their order in the file, so the executor and chip tables match the reference's.
//!
//! An unknown key is an error naming it. The top-level `[system_params]` (STARK parameters)
//! sets the segment height limit (2^(l_skip + n_stack)) and the proving-memory estimate's
//! parameters; its other keys, `max_constraint_degree` and the address-space layout belong to
//! proving and are accepted without effect. An extension rvx does not implement yet (the
//! algebra extensions, deferral) is an error saying so.
//!
//! As the reference's SDK does, when both RV32M and BigInt are present their range-tuple
//! checkers (one shared chip) get the element-wise largest of their sizes.

use super::{SystemConfig, VmConfig};
use crate::error::ConfigError;
use crate::extension::bigint::BigInt;
use crate::extension::keccak::Keccak;
use crate::extension::sha2::Sha2;
use crate::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M, Extension};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// A VM configuration read from an `openvm.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// The system settings.
    pub system: SystemConfig,
    /// `[app_vm_config.rv32i]`.
    pub rv32i: Option<Rv32I>,
    /// `[app_vm_config.io]`.
    pub io: Option<Io>,
    /// `[app_vm_config.keccak]`.
    pub keccak: Option<Keccak>,
    /// `[app_vm_config.sha2]`.
    pub sha2: Option<Sha2>,
    /// `[app_vm_config.rv32m]`.
    pub rv32m: Option<Rv32M>,
    /// `[app_vm_config.bigint]`.
    pub bigint: Option<BigInt>,
}

impl VmConfig for AppConfig {
    fn system(&self) -> &SystemConfig {
        &self.system
    }

    fn extensions(&self) -> Vec<Arc<dyn Extension>> {
        let mut out: Vec<Arc<dyn Extension>> = Vec::new();
        if let Some(e) = self.rv32i {
            out.push(Arc::new(e));
        }
        if let Some(e) = self.io {
            out.push(Arc::new(e));
        }
        if let Some(e) = self.keccak {
            out.push(Arc::new(e));
        }
        if let Some(e) = self.sha2 {
            out.push(Arc::new(e));
        }
        if let Some(e) = self.rv32m {
            out.push(Arc::new(e));
        }
        if let Some(e) = self.bigint {
            out.push(Arc::new(e));
        }
        out
    }
}

impl AsRef<SystemConfig> for AppConfig {
    fn as_ref(&self) -> &SystemConfig {
        &self.system
    }
}

/// The file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    app_vm_config: Vm,
    /// STARK parameters: they set the segment height limit and the proving-memory estimate.
    system_params: Option<StarkParams>,
}

/// `[system_params]`: the reference's STARK parameters. Only those that affect segmentation
/// are read; the rest (query counts, proof-of-work bits, ...) belong to proving.
#[derive(Deserialize)]
struct StarkParams {
    l_skip: Option<u64>,
    n_stack: Option<u64>,
    log_blowup: Option<u64>,
    max_constraint_degree: Option<u64>,
    whir: Option<WhirParams>,
}

#[derive(Deserialize)]
struct WhirParams {
    k: Option<u64>,
}

/// `[app_vm_config]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vm {
    system: Option<System>,
    rv32i: Option<Empty>,
    io: Option<Empty>,
    rv32m: Option<Rv32MTable>,
    keccak: Option<Empty>,
    sha2: Option<Empty>,
    bigint: Option<BigIntTable>,
    modular: Option<toml::Value>,
    fp2: Option<toml::Value>,
    ecc: Option<toml::Value>,
    pairing: Option<toml::Value>,
    deferral: Option<toml::Value>,
}

/// An extension table without settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rv32MTable {
    range_tuple_checker_sizes: Option<[u32; 2]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BigIntTable {
    range_tuple_checker_sizes: Option<[u32; 2]>,
}

/// `[app_vm_config.system]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct System {
    config: Option<SystemTable>,
}

/// `[app_vm_config.system.config]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemTable {
    num_public_values: Option<usize>,
    memory_config: Option<MemoryTable>,
    /// Proving only.
    #[allow(dead_code)]
    max_constraint_degree: Option<usize>,
}

/// `[app_vm_config.system.config.memory_config]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryTable {
    pointer_max_bits: Option<u32>,
    /// Proving-side layout of the reference's address spaces.
    #[allow(dead_code)]
    addr_space_height: Option<toml::Value>,
    #[allow(dead_code)]
    addr_spaces: Option<toml::Value>,
    #[allow(dead_code)]
    timestamp_max_bits: Option<toml::Value>,
    #[allow(dead_code)]
    decomp: Option<toml::Value>,
}

impl AppConfig {
    /// Parses the text of an `openvm.toml`; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<AppConfig, ConfigError> {
        let error = |message: String| ConfigError::Toml {
            path: origin.to_string(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| error(e.message().to_string()))?;
        let vm = file.app_vm_config;
        let unsupported = [
            ("modular", vm.modular.is_some()),
            ("fp2", vm.fp2.is_some()),
            ("ecc", vm.ecc.is_some()),
            ("pairing", vm.pairing.is_some()),
            ("deferral", vm.deferral.is_some()),
        ];
        if let Some((name, _)) = unsupported.iter().find(|(_, present)| *present) {
            return Err(error(format!(
                "extension `app_vm_config.{name}` is not implemented by rvx yet"
            )));
        }
        let mut system = SystemConfig::default();
        if let Some(table) = vm.system.and_then(|s| s.config) {
            if let Some(n) = table.num_public_values {
                system.num_public_values = n;
            }
            if let Some(bits) = table.memory_config.and_then(|m| m.pointer_max_bits) {
                system.pointer_max_bits = bits;
            }
        }
        if let Some(stark) = file.system_params {
            let memory = &mut system.proving_memory;
            let l_skip = stark.l_skip.unwrap_or(memory.l_skip);
            let n_stack = stark
                .n_stack
                .unwrap_or(memory.log_stacked_height - memory.l_skip);
            memory.l_skip = l_skip;
            memory.log_stacked_height = l_skip + n_stack;
            if let Some(v) = stark.log_blowup {
                memory.log_blowup = v;
                // The reference saves zerocheck memory exactly when the blowup is 2.
                memory.zerocheck_save_memory = v == 1;
            }
            if let Some(v) = stark.max_constraint_degree {
                memory.max_constraint_degree = v;
            }
            if let Some(k) = stark.whir.and_then(|w| w.k) {
                memory.k_whir = k;
            }
            // Segments may be as tall as the stacked height.
            let bits = memory.log_stacked_height;
            if bits >= 32 {
                return Err(error(format!(
                    "system_params: log stacked height {bits} is too large"
                )));
            }
            system.segmentation.max_trace_height = 1 << bits;
        }
        system.validate()?;
        let mut rv32m = vm.rv32m.map(|t| Rv32M {
            range_tuple_checker_sizes: t
                .range_tuple_checker_sizes
                .unwrap_or(crate::extension::rv32m::DEFAULT_RANGE_TUPLE_CHECKER_SIZES),
        });
        let mut bigint = vm.bigint.map(|t| BigInt {
            range_tuple_checker_sizes: t
                .range_tuple_checker_sizes
                .unwrap_or(crate::extension::bigint::DEFAULT_RANGE_TUPLE_CHECKER_SIZES),
        });
        if let (Some(m), Some(b)) = (rv32m.as_mut(), bigint.as_mut()) {
            // One shared checker, large enough for both (the reference SDK's adjustment).
            let [m0, m1] = m.range_tuple_checker_sizes;
            let [b0, b1] = b.range_tuple_checker_sizes;
            let sizes = [m0.max(b0), m1.max(b1)];
            m.range_tuple_checker_sizes = sizes;
            b.range_tuple_checker_sizes = sizes;
        }
        Ok(AppConfig {
            system,
            rv32i: vm.rv32i.map(|_| Rv32I),
            io: vm.io.map(|_| Io),
            keccak: vm.keccak.map(|_| Keccak),
            sha2: vm.sha2.map(|_| Sha2),
            rv32m,
            bigint,
        })
    }

    /// Reads an `openvm.toml` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<AppConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Toml {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        AppConfig::from_toml_str(&text, &path.display().to_string())
    }
}
