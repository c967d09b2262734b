use rvx::VmConfig;

#[derive(VmConfig)]
union UnionConfig {
    memory: u32,
    pages: u64,
}

fn main() {}
