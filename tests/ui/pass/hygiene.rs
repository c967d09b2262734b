//! Field names that collide with the generated code's locals, raw identifiers, and a
//! configuration declared by a `macro_rules!` macro.

use rvx::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M};
use rvx::{SystemConfig, VmConfig};

#[derive(VmConfig, Default)]
struct Collisions {
    #[config]
    out: SystemConfig,
    #[extension]
    r#fn: Rv32I,
    #[extension]
    r#type: Io,
}

macro_rules! config {
    ($name:ident { $system:ident, $($extension:ident: $ty:ty),* }) => {
        #[derive(VmConfig, Default)]
        struct $name {
            #[config]
            $system: SystemConfig,
            $(
                #[extension]
                $extension: $ty,
            )*
        }
    };
}

config!(FromMacro {
    system,
    rv32i: Rv32I,
    rv32m: Rv32M
});

mod shadowing {
    // Names the generated code must not pick up.
    #[allow(dead_code)]
    struct Vec;
    #[allow(dead_code)]
    struct Arc;
    #[allow(dead_code)]
    trait VmConfig {}
    #[allow(dead_code)]
    mod core {}
    #[allow(dead_code)]
    mod std {}

    #[derive(::rvx::VmConfig, Default)]
    pub struct Shadowed {
        #[config]
        system: ::rvx::SystemConfig,
        #[extension]
        rv32i: ::rvx::extension::rv32i::Rv32I,
    }
}

fn main() {
    assert_eq!(Collisions::default().extensions().len(), 2);
    assert_eq!(FromMacro::default().extensions().len(), 2);
    assert_eq!(
        VmConfig::extensions(&shadowing::Shadowed::default()).len(),
        1
    );
}
