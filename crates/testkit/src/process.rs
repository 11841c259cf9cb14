//! Child processes that never outlive the test or task that started them.

use std::io::{Error, ErrorKind};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// A child process that is killed and reaped when dropped, so a failing test leaves nothing
/// running.
#[derive(Debug)]
pub struct Guarded(Option<Child>);

impl Guarded {
    /// Guards `child`.
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Whether the child has exited, and how (`None` while it runs, or if the system cannot
    /// tell).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// The child, no longer guarded (to wait for it or terminate it).
    pub fn into_inner(mut self) -> Child {
        self.0.take().expect("guarded until taken")
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM to `pid`.
fn sigterm(pid: u32) -> std::io::Result<()> {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::other(format!("kill -TERM {pid} failed ({status})")))
    }
}

/// SIGTERMs `child` (a long-running role shuts down cleanly on it) and collects its output;
/// SIGKILLs it if it has not exited after `grace`, and then answers `TimedOut`.
pub fn terminate(mut child: Child, grace: Duration) -> std::io::Result<Output> {
    sigterm(child.id())?;
    let deadline = Instant::now() + grace;
    while child.try_wait()?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!(
                    "pid {} ignored SIGTERM for {} s",
                    child.id(),
                    grace.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output()
}

/// Named long-running processes, SIGTERMed (and after 20 s killed) when dropped.
#[derive(Debug, Default)]
pub struct Services(Vec<(String, Child)>);

impl Services {
    /// Starts `command` as a service; returns its pid.
    pub fn start(&mut self, name: impl Into<String>, mut command: Command) -> std::io::Result<u32> {
        let name = name.into();
        let child = command
            .spawn()
            .map_err(|error| Error::new(error.kind(), format!("starting {name}: {error}")))?;
        let pid = child.id();
        self.0.push((name, child));
        Ok(pid)
    }

    /// Fails naming the first service that has exited.
    pub fn check(&mut self) -> std::io::Result<()> {
        for (name, child) in &mut self.0 {
            if let Some(status) = child.try_wait()? {
                return Err(Error::other(format!(
                    "{name} exited ({status}); see its log"
                )));
            }
        }
        Ok(())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = sigterm(child.id());
        }
        for (_, child) in &mut self.0 {
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_child_dies_with_its_guard_and_terminate_stops_one() {
        let guarded = Guarded::new(Command::new("sleep").arg("60").spawn().unwrap());
        let pid = guarded.id();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        drop(guarded);
        assert!(!std::path::Path::new(&format!("/proc/{pid}/status")).exists());

        let child = Command::new("sleep").arg("60").spawn().unwrap();
        let output = terminate(child, Duration::from_secs(5)).unwrap();
        assert!(!output.status.success(), "sleep dies of SIGTERM");

        // A process that ignores SIGTERM is killed after the grace period.
        let stubborn = Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 60"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let error = terminate(stubborn, Duration::from_millis(500)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut);
    }

    #[test]
    fn services_report_one_that_exited() {
        let mut services = Services::default();
        services
            .start("sleeper", {
                let mut command = Command::new("sleep");
                command.arg("60");
                command
            })
            .unwrap();
        services.check().unwrap();
        services.start("quitter", Command::new("true")).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let error = services.check().unwrap_err();
        assert!(error.to_string().contains("quitter exited"), "{error}");
    }
}
