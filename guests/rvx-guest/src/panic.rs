//! The panic handler: prints `panicked at FILE:LINE:COL: MESSAGE\n` with one `printstr`
//! (truncated to 1024 bytes) and terminates with exit code 1.

use core::fmt::{self, Write};
use core::panic::PanicInfo;

/// A fixed-size buffer that keeps what fits (cut at a char boundary) and drops the rest.
struct FixedBuf {
    buf: [u8; 1024],
    len: usize,
}

impl Write for FixedBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    let mut w = FixedBuf {
        buf: [0; 1024],
        len: 0,
    };
    let _ = match info.location() {
        Some(loc) => writeln!(
            w,
            "panicked at {}:{}:{}: {}",
            loc.file(),
            loc.line(),
            loc.column(),
            info.message()
        ),
        None => writeln!(w, "panicked: {}", info.message()),
    };
    crate::sys::print_str(&w.buf[..w.len]);
    crate::sys::terminate::<1>()
}
