//! The CloudWatch agent's `nvidia_gpu` plugin (Telegraf's nvidia_smi input): one query of the
//! NVIDIA driver's `nvidia-smi` per collection, a line of CSV per GPU; metrics named
//! `nvidia_smi_<field>`, dimensions `index` and `name` of the GPU. A field the GPU does not
//! report (`[Not Supported]`, `N/A`) is left out. Without `nvidia-smi` on the PATH the plugin
//! says so at each scrape (the driver is missing, or this is not a GPU instance).

use std::process::Command;

/// The fields asked for, in the query's order after `index` and `name`: (query, field).
pub const QUERY: &[(&str, &str)] = &[
    ("fan.speed", "fan_speed"),
    ("memory.total", "memory_total"),
    ("memory.used", "memory_used"),
    ("memory.free", "memory_free"),
    ("power.draw", "power_draw"),
    ("temperature.gpu", "temperature_gpu"),
    ("utilization.gpu", "utilization_gpu"),
    ("utilization.memory", "utilization_memory"),
    ("pcie.link.gen.current", "pcie_link_gen_current"),
    ("pcie.link.width.current", "pcie_link_width_current"),
    ("encoder.stats.sessionCount", "encoder_stats_session_count"),
    ("encoder.stats.averageFps", "encoder_stats_average_fps"),
    ("encoder.stats.averageLatency", "encoder_stats_average_latency"),
    ("clocks.current.graphics", "clocks_current_graphics"),
    ("clocks.current.sm", "clocks_current_sm"),
    ("clocks.current.memory", "clocks_current_memory"),
    ("clocks.current.video", "clocks_current_video"),
];

/// One GPU's reading: its index and name, and the fields it reported.
pub type Gpu = (String, String, Vec<(&'static str, f64)>);

/// Runs `nvidia-smi` (from `$SKYWATCH_NVIDIA_SMI`, else the PATH) and reads its answer.
pub fn query() -> Result<Vec<Gpu>, String> {
    let program = std::env::var("SKYWATCH_NVIDIA_SMI").unwrap_or_else(|_| "nvidia-smi".to_string());
    let fields: Vec<&str> = ["index", "name"]
        .into_iter()
        .chain(QUERY.iter().map(|(q, _)| *q))
        .collect();
    let mut command = Command::new(&program);
    command
        .arg(format!("--query-gpu={}", fields.join(",")))
        .arg("--format=csv,noheader,nounits");
    let out = super::command::output_within(command, super::command::TIMEOUT)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{program} not found: nvidia_gpu needs the NVIDIA driver's nvidia-smi (is this a GPU instance with the driver installed?)"
            ),
            _ => format!("cannot run {program}: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// The GPUs of `nvidia-smi --query-gpu=index,name,… --format=csv,noheader,nounits` output.
pub fn parse(text: &str) -> Result<Vec<Gpu>, String> {
    let mut gpus = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != QUERY.len() + 2 {
            return Err(format!(
                "nvidia-smi answered {} columns where {} were asked for: {line:?}",
                cells.len(),
                QUERY.len() + 2
            ));
        }
        let fields = QUERY
            .iter()
            .zip(&cells[2..])
            .filter_map(|((_, field), cell)| {
                cell.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(|v| (*field, v))
            })
            .collect();
        gpus.push((cells[0].to_string(), cells[1].to_string(), fields));
    }
    Ok(gpus)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_recorded_answer_reads_per_gpu_and_unsupported_fields_are_left_out() {
        let text = "0, Tesla T4, 0, 15360, 1024, 14336, 27.50, 44, 87, 12, 3, 16, 0, 0, 0, 1590, 1590, 5000, 1470\n1, Tesla T4, [Not Supported], 15360, 0, 15360, N/A, 30, 0, 0, 1, 16, 0, 0, 0, 300, 300, 405, 540\n";
        let gpus = parse(text).unwrap();
        assert_eq!(gpus.len(), 2);
        assert_eq!((gpus[0].0.as_str(), gpus[0].1.as_str()), ("0", "Tesla T4"));
        let get = |i: usize, f: &str| gpus[i].2.iter().find(|(n, _)| *n == f).map(|(_, v)| *v);
        assert_eq!(get(0, "utilization_gpu"), Some(87.0));
        assert_eq!(get(0, "power_draw"), Some(27.5));
        assert_eq!(get(1, "fan_speed"), None);
        assert_eq!(get(1, "power_draw"), None);
        assert!(parse("0, T4, 1\n").is_err());
    }
}
