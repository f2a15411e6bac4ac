//! A loopback TCP proxy in front of the server, so a test can cut an SDK's connection for real
//! (kill), bring the address back (restart), or hold back what the server sends (pause).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    task: Option<JoinHandle<()>>,
    paused: watch::Sender<bool>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let paused = watch::channel(false).0;
        let task = Some(tokio::spawn(serve(listener, target, paused.clone())));
        Proxy {
            addr,
            target,
            task,
            paused,
        }
    }

    /// The URL to give the SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the listener and every connection through it.
    pub fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restart(&mut self) {
        self.kill();
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        };
        self.task = Some(tokio::spawn(serve(
            listener,
            self.target,
            self.paused.clone(),
        )));
    }

    /// Holds back (or releases) everything the server sends through the proxy.
    pub fn pause_downstream(&self, paused: bool) {
        self.paused.send_replace(paused);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn serve(listener: TcpListener, target: SocketAddr, paused: watch::Sender<bool>) {
    // Dropping the set (when this task is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let paused = paused.subscribe();
        connections.spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let upstream = tokio::io::copy(&mut client_read, &mut server_write);
            let downstream = async {
                let mut paused = paused;
                let mut buffer = vec![0u8; 16 * 1024];
                loop {
                    let n = match server_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    while *paused.borrow_and_update() {
                        if paused.changed().await.is_err() {
                            return;
                        }
                    }
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = upstream => {}
                _ = downstream => {}
            }
        });
        while connections.try_join_next().is_some() {}
    }
}
