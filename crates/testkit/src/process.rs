//! Runs a real service binary as a child process, for what only a process can show: signals, exit codes,
//! start-up failures and the log lines it writes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running (or finished) service process with its output captured line by line.
pub struct ServiceProcess {
    child: Child,
    pub port: u16,
    output: Arc<Mutex<Vec<String>>>,
}

/// A free loopback port (bound then released; the child binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl ServiceProcess {
    /// Starts `binary` with exactly `env` (plus `PATH`) and `PORT` set to a free port.
    pub fn spawn(binary: &str, env: &[(String, String)]) -> ServiceProcess {
        Self::spawn_with_args(binary, &[], env)
    }

    /// [`ServiceProcess::spawn`] with command-line arguments (a subcommand such as `migrate`).
    pub fn spawn_with_args(binary: &str, args: &[&str], env: &[(String, String)]) -> ServiceProcess {
        let port = free_port();
        let mut command = Command::new(binary);
        command.args(args);
        command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("PORT", port.to_string());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("service binary starts");
        let output: Arc<Mutex<Vec<String>>> = Arc::default();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let sink = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }
        ServiceProcess { child, port, output }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Every line written to stdout and stderr so far.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, at most `limit`; `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader threads a moment to drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `GET path` until it answers `status`, panicking with the output after `limit`.
    pub async fn wait_for_status(&self, path: &str, status: u16, limit: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = client.get(self.url(path)).send().await
                && r.status().as_u16() == status
            {
                return;
            }
            assert!(Instant::now() < deadline, "{path} never answered {status}; output:\n{}", self.output().join("\n"));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
