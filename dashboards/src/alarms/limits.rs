//! CloudWatch's limits on alarm definitions, each where the API reference states it
//! (PutMetricAlarm and PutCompositeAlarm in the CloudWatch API reference, botocore 1.43.11's model).

/// AlarmName: 1 to 255 characters (PutMetricAlarm, PutCompositeAlarm).
pub const MAX_ALARM_NAME_CHARS: usize = 255;
/// AlarmDescription: 0 to 1024 characters.
pub const MAX_ALARM_DESCRIPTION_CHARS: usize = 1024;
/// OKActions, AlarmActions, InsufficientDataActions: at most 5 ARNs each.
pub const MAX_ACTIONS_PER_STATE: usize = 5;
/// Period × EvaluationPeriods may not exceed one week.
pub const MAX_EVALUATION_SECS: u64 = 604_800;
/// … and one day when the period is shorter than an hour.
pub const MAX_EVALUATION_SECS_SHORT_PERIOD: u64 = 86_400;
/// Periods shorter than this count as "short" for the limit above.
pub const SHORT_PERIOD_BELOW_SECS: u32 = 3_600;
/// The high-resolution periods; any other period is a multiple of 60.
pub const HIGH_RESOLUTION_PERIODS_SECS: [u32; 3] = [10, 20, 30];
/// Tags: at most 50 per alarm.
pub const MAX_TAGS: usize = 50;
/// AlarmRule: 1 to 10,240 characters (PutCompositeAlarm).
pub const MAX_ALARM_RULE_CHARS: usize = 10_240;
/// AlarmRule: at most 100 child alarms.
pub const MAX_ALARM_RULE_CHILDREN: usize = 100;
/// AlarmRule: at most 500 elements (children, TRUE/FALSE, parentheses).
pub const MAX_ALARM_RULE_ELEMENTS: usize = 500;
/// Metrics (MetricDataQuery) in one alarm. The older alarm docs say 10 metrics per math
/// alarm; the API allows more (the current number is not confirmed), so we check the API's
/// MetricDataQueries list bound of 500 only loosely and keep the 10-metric rule as documented.
pub const MAX_METRICS_IN_MATH_ALARM: usize = 10;
/// MetricDataQuery Id: 1 to 255 characters, a lowercase letter first.
pub const MAX_QUERY_ID_CHARS: usize = 255;
/// Expression: 1 to 2048 characters (MetricDataQuery).
pub const MAX_EXPRESSION_CHARS: usize = 2_048;
/// Dimensions: at most 30 per metric (Metric / PutMetricData).
pub const MAX_DIMENSIONS: usize = 30;
/// StateReason: at most 1023 characters; StateReasonData: at most 4000 (SetAlarmState).
pub const MAX_STATE_REASON_CHARS: usize = 1_023;
/// See [`MAX_STATE_REASON_CHARS`].
pub const MAX_STATE_REASON_DATA_CHARS: usize = 4_000;
/// SNS Subject: "less than 100 characters long", with no line breaks or control characters
/// (SNS Publish).
pub const MAX_SNS_SUBJECT_CHARS: usize = 99;
/// Nesting depth our parsers accept in a math expression or an alarm rule (ours, not AWS's: it
/// keeps a hostile file from exhausting the stack).
pub const MAX_NESTING: usize = 64;

/// Queries (metrics and expressions) in one metric math alarm. Ours: AWS documents the metrics
/// (at most 10) but not the expressions; this keeps evaluation's recursion shallow.
pub const MAX_QUERIES_IN_MATH_ALARM: usize = 100;

/// Alarms in one rule file. Ours: it keeps checking and ordering composites (recursive) cheap.
pub const MAX_ALARMS_PER_FILE: usize = 5_000;
