use rvx::{SystemConfig, VmConfig};

/// `E` lacks the `rvx::extension::Extension` bound.
#[derive(VmConfig)]
struct Generic<E: Clone + Send + Sync> {
    #[config]
    system: SystemConfig,
    #[extension]
    extra: Option<E>,
}

fn main() {}
