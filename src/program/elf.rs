//! ELF parsing and validation with the `object` crate.

use super::Segment;
use crate::error::LoadError;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian;

/// Offsets and size of the ELF identification bytes (the ELF specification's EI_* values).
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_NIDENT: usize = 16;

/// The validated contents of an ELF executable.
pub(super) struct Image {
    pub entry: u32,
    pub segments: Vec<Segment>,
}

/// Parses and validates `bytes` for a guest memory of `memory_size` bytes.
pub(super) fn parse(bytes: &[u8], memory_size: u64) -> Result<Image, LoadError> {
    // Check the identification bytes first so each wrong kind of file gets its own error.
    if bytes.len() < 4 || bytes[..4] != elf::ELFMAG {
        return Err(LoadError::NotElf);
    }
    if bytes.len() < EI_NIDENT {
        return Err(LoadError::Malformed(
            "file ends inside the ELF identification".into(),
        ));
    }
    if bytes[EI_CLASS] != elf::ELFCLASS32 {
        return Err(LoadError::Not32Bit(bytes[EI_CLASS]));
    }
    if bytes[EI_DATA] != elf::ELFDATA2LSB {
        return Err(LoadError::NotLittleEndian(bytes[EI_DATA]));
    }
    let malformed = |e: object::Error| LoadError::Malformed(e.to_string());
    let header = elf::FileHeader32::<LittleEndian>::parse(bytes).map_err(malformed)?;
    let endian = LittleEndian;
    let machine = header.e_machine(endian);
    if machine != elf::EM_RISCV {
        return Err(LoadError::WrongArchitecture(machine));
    }
    let kind = header.e_type(endian);
    if kind != elf::ET_EXEC {
        return Err(LoadError::NotExecutable(kind));
    }
    let entry = header.e_entry(endian);

    let mut segments = Vec::new();
    for ph in header.program_headers(endian, bytes).map_err(malformed)? {
        if ph.p_type(endian) != elf::PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        let vaddr = ph.p_vaddr(endian);
        let memsz = ph.p_memsz(endian);
        let filesz = ph.p_filesz(endian);
        if filesz > memsz {
            return Err(LoadError::FileSizeExceedsMemSize {
                vaddr,
                filesz,
                memsz,
            });
        }
        if u64::from(vaddr) + u64::from(memsz) > memory_size {
            return Err(LoadError::SegmentOutOfRange {
                vaddr,
                size: memsz,
                memory_size,
            });
        }
        let executable = ph.p_flags(endian) & elf::PF_X != 0;
        if executable && vaddr % 4 != 0 {
            return Err(LoadError::Misaligned {
                what: "executable segment",
                addr: vaddr,
            });
        }
        let data = ph.data(endian, bytes).map_err(|()| {
            LoadError::Malformed(format!(
                "segment at {vaddr:#010x} extends past the end of the file"
            ))
        })?;
        segments.push(Segment {
            vaddr,
            data: data.to_vec(),
            memsz,
            executable,
        });
    }

    segments.sort_by_key(|s| s.vaddr);
    for pair in segments.windows(2) {
        if u64::from(pair[0].vaddr) + u64::from(pair[0].memsz) > u64::from(pair[1].vaddr) {
            return Err(LoadError::OverlappingSegments {
                first: pair[0].vaddr,
                second: pair[1].vaddr,
            });
        }
    }
    if !segments.iter().any(|s| s.executable) {
        return Err(LoadError::NoCode);
    }
    let in_code = segments.iter().any(|s| {
        s.executable
            && entry >= s.vaddr
            && u64::from(entry) + 4 <= u64::from(s.vaddr) + u64::from(s.memsz)
    });
    if !in_code {
        return Err(LoadError::EntryNotExecutable { entry });
    }
    if entry % 4 != 0 {
        return Err(LoadError::Misaligned {
            what: "entry point",
            addr: entry,
        });
    }
    Ok(Image { entry, segments })
}
