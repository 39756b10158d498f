//! berthd: the Berth daemon.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("berthd: not wired yet")
}
