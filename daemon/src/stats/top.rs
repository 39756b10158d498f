//! `GET /containers/{id}/top?ps_args=…`, as dockerd: `ps` runs on the host with the
//! given arguments (default `-ef`) and the container's PIDs (`-q1,2,3`, or without them
//! when ps refuses the combination), and only the rows of those PIDs are kept.
use std::process::Command;

use super::model::TopResult;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopError {
    /// `ps_args` that would rename the PID column (400).
    #[error("specifying \"{0}\" is not allowed")]
    InvalidArgs(String),
    /// ps failed: the first line of its stderr.
    #[error("ps: {0}")]
    Ps(String),
    #[error("Couldn't find PID field in ps output")]
    NoPidColumn,
    #[error("Unexpected pid '{0}': strconv.Atoi: parsing \"{0}\": invalid syntax")]
    BadPid(String),
}

/// Runs `ps` with `ps_args` ("" means `-ef`) and keeps the rows of `pids`. Blocking:
/// call it from `spawn_blocking`.
pub fn top(pids: &[i32], ps_args: &str) -> Result<TopResult, TopError> {
    let ps_args = if ps_args.is_empty() { "-ef" } else { ps_args };
    validate_ps_args(ps_args)?;
    let args: Vec<&str> = ps_args.split(' ').collect();
    let pid_list = pids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let with_pids = Command::new("ps")
        .args(&args)
        .arg(format!("-q{pid_list}"))
        .output();
    let output = match with_pids {
        Ok(o) if o.status.success() => o,
        // Some options (f, say) cannot go with -q: without it, then.
        _ => {
            let o = Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| TopError::Ps(e.to_string()))?;
            if !o.status.success() {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let first = stderr.lines().next().unwrap_or("").to_string();
                return Err(TopError::Ps(if first.is_empty() {
                    o.status.to_string()
                } else {
                    first
                }));
            }
            o
        }
    };
    parse_ps_output(&String::from_utf8_lossy(&output.stdout), pids)
}

/// dockerd refuses `ps_args` like `-o user=PID`, which would fake the PID column.
fn validate_ps_args(ps_args: &str) -> Result<(), TopError> {
    let words: Vec<&str> = ps_args.split(ascii_space).collect();
    for (i, word) in words.iter().enumerate() {
        if i == 0 {
            continue; // dockerd's pattern needs whitespace before the key.
        }
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        // `key= PID…` with spaces after '=' counts too.
        let value = if value.is_empty() {
            words.get(i + 1).copied().unwrap_or("")
        } else {
            value
        };
        if value.starts_with("PID") && key != "pid" {
            let value: String = value.chars().take_while(|c| !ascii_space(*c)).collect();
            return Err(TopError::InvalidArgs(format!("{key}={value}")));
        }
    }
    Ok(())
}

fn ascii_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

fn fields(line: &str) -> Vec<String> {
    line.split(ascii_space)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// Keeps the header and the rows of `pids` (with their thread rows, `-` in the PID
/// column, as `ps -m` prints them); a last column with spaces (CMD) is one field.
pub fn parse_ps_output(output: &str, pids: &[i32]) -> Result<TopResult, TopError> {
    let mut lines = output.split('\n');
    let titles = fields(lines.next().unwrap_or(""));
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or(TopError::NoPidColumn)?;
    let mut result = TopResult {
        titles,
        processes: Vec::new(),
    };
    let mut previous_kept = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let row = fields(line);
        let Some(pid) = row.get(pid_index) else {
            continue;
        };
        if pid == "-" {
            if previous_kept {
                push_row(&mut result, row);
            }
            continue;
        }
        let pid: i32 = pid.parse().map_err(|_| TopError::BadPid(pid.clone()))?;
        previous_kept = pids.contains(&pid);
        if previous_kept {
            push_row(&mut result, row);
        }
    }
    Ok(result)
}

/// Joins the fields beyond the last title into the last column.
fn push_row(result: &mut TopResult, mut row: Vec<String>) {
    let n = result.titles.len();
    if row.len() > n && n > 0 {
        let tail = row.split_off(n - 1).join(" ");
        row.push(tail);
    }
    result.processes.push(row);
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 05:40 ?        00:00:01 /sbin/init
root         812       1  0 05:41 ?        00:00:00 sh -c while true; do sleep 1; done
root         900     812  0 05:41 ?        00:00:00 sleep 1
";

    #[test]
    fn keeps_the_containers_rows_with_whole_commands() {
        let r = parse_ps_output(PS_EF, &[812, 900]).expect("parsed");
        assert_eq!(
            r.titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(r.processes.len(), 2);
        assert_eq!(r.processes[0][7], "sh -c while true; do sleep 1; done");
        assert_eq!(r.processes[1][1], "900");
        let text = serde_json::to_string(&r).expect("json");
        assert!(
            text.starts_with(
                r#"{"Processes":[["root","812","1","0","05:41","?","00:00:00","sh -c while"#
            ),
            "{text}"
        );
        assert!(
            text.ends_with(r#""Titles":["UID","PID","PPID","C","STIME","TTY","TIME","CMD"]}"#),
            "{text}"
        );
    }

    #[test]
    fn thread_rows_follow_their_process() {
        let out = "PID TTY TIME CMD\n812 ? 00:00:00 sh\n- - 00:00:00 -\n1 ? 00:00:01 init\n- - 00:00:00 -\n";
        let r = parse_ps_output(out, &[812]).expect("parsed");
        assert_eq!(r.processes.len(), 2);
        assert_eq!(r.processes[1][0], "-");
    }

    #[test]
    fn dockerds_errors() {
        assert_eq!(
            parse_ps_output("UID CMD\nroot x\n", &[1]),
            Err(TopError::NoPidColumn)
        );
        assert_eq!(
            parse_ps_output("PID CMD\nabc x\n", &[1]),
            Err(TopError::BadPid("abc".into()))
        );
        assert_eq!(
            top(&[1], "-o user=PID"),
            Err(TopError::InvalidArgs("user=PID".into()))
        );
        assert_eq!(
            TopError::InvalidArgs("user=PID".into()).to_string(),
            "specifying \"user=PID\" is not allowed"
        );
        assert!(validate_ps_args("-o pid=PID").is_ok());
        assert!(validate_ps_args("aux").is_ok());
    }

    #[test]
    fn runs_ps_on_the_host() {
        let me = std::process::id() as i32;
        let r = top(&[me], "").expect("ps -ef");
        assert_eq!(r.titles[1], "PID");
        assert_eq!(r.processes.len(), 1);
        assert_eq!(r.processes[0][1], me.to_string());
        let r = top(&[me], "aux").expect("ps aux");
        assert_eq!(r.processes.len(), 1);
        assert_eq!(r.titles[0], "USER");
        match top(&[me], "--no-such-option") {
            Err(TopError::Ps(m)) => assert!(!m.is_empty()),
            other => panic!("expected ps error, got {other:?}"),
        }
    }
}
