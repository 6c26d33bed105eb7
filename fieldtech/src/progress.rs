//! The sync's progress line: a spinner that keeps turning (so a slow link never looks frozen),
//! counts while events go, and a bar only while photo bytes go, drawn from what has left the
//! phone. With `--json`, each progress event is a JSON line on standard error instead.

use std::collections::HashMap;
use std::time::Duration;

use fieldcore::sync::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use uuid::Uuid;

pub struct Line {
    bar: ProgressBar,
    json: bool,
    short_ids: HashMap<Uuid, String>,
    counting: ProgressStyle,
    bytes: ProgressStyle,
}

impl Line {
    pub fn new(json: bool, short_ids: HashMap<Uuid, String>) -> Line {
        let bar = if json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        let counting = ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bytes = ProgressStyle::with_template(
            "{spinner} {msg} [{bar:24}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(counting.clone());
        bar.set_message("connecting");
        bar.enable_steady_tick(Duration::from_millis(120));
        Line {
            bar,
            json,
            short_ids,
            counting,
            bytes,
        }
    }

    pub fn show(&self, p: &Progress) {
        if self.json {
            if let Ok(line) = serde_json::to_string(p) {
                eprintln!("{line}");
            }
            return;
        }
        match p {
            Progress::Pushing {
                sent,
                pending,
                batch_bytes_sent,
                batch_bytes,
            } => {
                self.bar.set_style(self.counting.clone());
                self.bar.set_message(format!(
                    "sending events: {sent} of {} confirmed ({} of {} on the way)",
                    u64::from(*sent) + pending,
                    HumanBytes(*batch_bytes_sent),
                    HumanBytes(*batch_bytes)
                ));
            }
            Progress::Pulling { received } | Progress::Pulled { received } => {
                self.bar.set_style(self.counting.clone());
                self.bar
                    .set_message(format!("receiving the desk's changes: {received}"));
            }
            Progress::Uploading(u) => {
                let job = self
                    .short_ids
                    .get(&u.job_id)
                    .cloned()
                    .unwrap_or_else(|| u.job_id.to_string());
                self.bar.set_style(self.bytes.clone());
                self.bar.set_length(u.total);
                self.bar.set_position(u.sent);
                self.bar.set_message(format!(
                    "photo {} of {} ({} for job {job}; all photos {} of {})",
                    u.number,
                    u.count,
                    u.category,
                    HumanBytes(u.sync_sent),
                    HumanBytes(u.sync_total)
                ));
            }
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
