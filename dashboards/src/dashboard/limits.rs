//! PutDashboard's limits, checked before a body is sent. Sources: the API reference's "Dashboard
//! Body Structure and Syntax" page
//! (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html),
//! PutDashboard (…/API_PutDashboard.html) and the CloudWatch quotas page
//! (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html).

/// The grid has 24 columns (Body Structure: "x … 0–23", "width … up to 24").
pub const GRID_COLUMNS: u64 = 24;

/// At most 500 widgets per dashboard; zero is allowed (Body Structure, `widgets`).
pub const MAX_WIDGETS: usize = 500;

/// Width of a widget in grid columns: 1–24, default 6 (Body Structure, widget `width`).
pub const MIN_WIDTH: u64 = 1;
pub const MAX_WIDTH: u64 = 24;
pub const DEFAULT_WIDTH: u64 = 6;

/// Height in grid rows: 1–1000, default 6 (Body Structure, widget `height`).
pub const MIN_HEIGHT: u64 = 1;
pub const MAX_HEIGHT: u64 = 1000;
pub const DEFAULT_HEIGHT: u64 = 6;

/// The largest `x` (Body Structure: "x … 0–23").
pub const MAX_X: u64 = 23;

/// Metrics (rows of `metrics`, math rows included) per graph and per dashboard. From the quotas
/// page ("500 metrics per dashboard widget", "2,500 metrics per dashboard"); recalled, not
/// re-read for this release.
pub const MAX_METRICS_PER_WIDGET: usize = 500;
pub const MAX_METRICS_PER_DASHBOARD: usize = 2_500;

/// Alarms in one alarm status widget (Body Structure, alarm widget `alarms`: "up to 100").
pub const MAX_ALARMS_PER_WIDGET: usize = 100;

/// Dashboard names: 1–255 characters of `[A-Za-z0-9_-]` (PutDashboard, `DashboardName`).
pub const MAX_NAME_CHARS: usize = 255;

/// The periods a metric may have below one minute; above it, any multiple of 60 (Body
/// Structure, metric widget `period`).
pub const SUB_MINUTE_PERIODS_SECS: [u64; 5] = [1, 5, 10, 30, 60];
