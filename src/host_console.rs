//! The serial console on the process's stdin/stdout. On a terminal, stdin goes into raw mode
//! (every key goes to the guest, including Ctrl-C) and Ctrl-A x quits; from a pipe, bytes pass
//! unchanged so scripts can drive the guest. Stdin is read on its own thread and handed over
//! through a channel, so the machine loop never blocks on it.

use std::io::{IsTerminal, Read};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

/// The escape key: Ctrl-A, as in QEMU and screen.
pub const ESCAPE: u8 = 0x01;

/// What the console has for the machine.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleInput {
    Bytes(Vec<u8>),
    /// The user typed the escape sequence to quit.
    Quit,
    /// Stdin ended.
    Closed,
}

/// Finds Ctrl-A x (quit) and Ctrl-A Ctrl-A (a literal Ctrl-A) in terminal input; any other key
/// after Ctrl-A passes through with the Ctrl-A dropped.
#[derive(Default)]
pub struct EscapeParser {
    after_escape: bool,
}

impl EscapeParser {
    /// Splits `bytes` into what goes to the guest and whether the user asked to quit.
    pub fn feed(&mut self, bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(bytes.len());
        for &byte in bytes {
            if self.after_escape {
                self.after_escape = false;
                match byte {
                    b'x' | b'X' => return (out, true),
                    _ => out.push(byte),
                }
            } else if byte == ESCAPE {
                self.after_escape = true;
            } else {
                out.push(byte);
            }
        }
        (out, false)
    }
}

/// The host side of the serial console.
pub struct HostConsole {
    input: Receiver<ConsoleInput>,
    raw_mode: bool,
    closed: bool,
}

impl HostConsole {
    /// Starts reading stdin; puts the terminal in raw mode if stdin is one.
    pub fn open() -> Self {
        let raw_mode =
            std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok();
        let (send, input) = channel();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut escape = EscapeParser::default();
            let mut buf = [0u8; 4096];
            loop {
                let event = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => ConsoleInput::Closed,
                    Ok(n) if raw_mode => match escape.feed(&buf[..n]) {
                        (_, true) => ConsoleInput::Quit,
                        (bytes, false) => ConsoleInput::Bytes(bytes),
                    },
                    Ok(n) => ConsoleInput::Bytes(buf[..n].to_vec()),
                };
                let last = event == ConsoleInput::Closed;
                if send.send(event).is_err() || last {
                    return;
                }
            }
        });
        Self {
            input,
            raw_mode,
            closed: false,
        }
    }

    /// Whether stdin is a terminal in raw mode.
    pub fn raw_mode(&self) -> bool {
        self.raw_mode
    }

    /// The terminal's size (columns, rows), if stdin is a terminal.
    pub fn size(&self) -> Option<(u16, u16)> {
        if self.raw_mode {
            crossterm::terminal::size().ok()
        } else {
            None
        }
    }

    /// Whether stdin has ended.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Input available now, without waiting.
    pub fn poll(&mut self) -> Option<ConsoleInput> {
        match self.input.try_recv() {
            Ok(event) => Some(self.note(event)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.disconnected(),
        }
    }

    /// Waits for input up to `timeout` (forever if `None`).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Option<ConsoleInput> {
        if self.closed {
            if let Some(timeout) = timeout {
                std::thread::sleep(timeout);
            }
            return None;
        }
        let event = match timeout {
            Some(timeout) => match self.input.recv_timeout(timeout) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return self.disconnected(),
            },
            None => match self.input.recv() {
                Ok(event) => event,
                Err(_) => return self.disconnected(),
            },
        };
        Some(self.note(event))
    }

    fn note(&mut self, event: ConsoleInput) -> ConsoleInput {
        if event == ConsoleInput::Closed {
            self.closed = true;
        }
        event
    }

    fn disconnected(&mut self) -> Option<ConsoleInput> {
        if self.closed {
            None
        } else {
            self.closed = true;
            Some(ConsoleInput::Closed)
        }
    }
}

impl Drop for HostConsole {
    fn drop(&mut self) {
        if self.raw_mode {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences() {
        let mut parser = EscapeParser::default();
        assert_eq!(parser.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(parser.feed(b"a\x01\x01b"), (b"a\x01b".to_vec(), false));
        assert_eq!(parser.feed(b"q\x01"), (b"q".to_vec(), false));
        // The escape spans two reads.
        assert_eq!(parser.feed(b"x rest"), (Vec::new(), true));
        let mut parser = EscapeParser::default();
        assert_eq!(parser.feed(b"\x01c"), (b"c".to_vec(), false));
        assert_eq!(
            parser.feed(b"\x03"),
            (b"\x03".to_vec(), false),
            "Ctrl-C goes to the guest"
        );
    }
}
