//! Planning `pattern`, `diff`/`logcompare`, `anomaly` and `relevantfields`. The first three
//! become a hidden stats (a count per signature, and per window or minute) and a row stage
//! that mines the templates (`exec::patterns`).

use std::collections::HashSet;

use super::Planner;
use crate::exec::patterns::{SIGNATURE, WINDOW_SIDE};
use crate::plan::aggregate::{AggKind, AggSpec, StatsStage};
use crate::plan::rows::{PatternColumn, Patterns, RelevantFields, RowStage};
use crate::plan::{CExpr, Column, PlanError, Stage};
use crate::syntax::ast::{Command, Expr, Name};
use crate::syntax::span::Span;
use crate::value::Value;

impl Planner<'_> {
    /// `pattern f`, or with `earlier` (`diff`, `logcompare`) the same over two windows.
    pub(super) fn pattern(
        &mut self,
        command: &Command,
        field: &Expr,
        earlier: Option<&(String, Span)>,
    ) -> Result<(), PlanError> {
        let source = self.row_expr(field)?;
        let signature = self.slot("\u{0}pattern:signature");
        let count = self.slot("\u{0}pattern:count");
        let mut groups = vec![(
            signature,
            CExpr::Call {
                function: &SIGNATURE,
                args: vec![source],
            },
        )];
        let mut window = None;
        if let Some((shift, span)) = earlier {
            if !shift.is_empty() && shift != "1mo" {
                crate::functions::parse_period(shift)
                    .and_then(|p| p.fixed_ms())
                    .ok_or_else(|| {
                        PlanError::new(format!("invalid time shift '{shift}': use 1d, 7d, 1w"), *span)
                    })?;
            }
            let Some(time) = self.visible_slot("@timestamp") else {
                return Err(PlanError::new(
                    "diff reads @timestamp, which does not exist after this stats",
                    command.word_span,
                ));
            };
            let slot = self.slot("\u{0}pattern:window");
            groups.push((
                slot,
                CExpr::Call {
                    function: &WINDOW_SIDE,
                    args: vec![CExpr::Slot(time), CExpr::Const(Some(Value::str(shift.as_str())))],
                },
            ));
            window = Some(slot);
            self.earlier_window = Some(shift.clone());
        }
        let timestamp = self.visible_slot("@timestamp");
        let mut output_slots: Vec<_> = groups.iter().map(|(s, _)| *s).collect();
        output_slots.push(count);
        self.stages.push(Stage::Stats(StatsStage {
            groups,
            aggregates: vec![AggSpec {
                kind: AggKind::Count,
                arg: None,
            }],
            outputs: vec![(count, CExpr::Aggregate(0))],
            timestamp,
            output_slots,
        }));
        let mut columns = vec![(PatternColumn::Pattern, "@pattern")];
        if window.is_some() {
            columns.extend([
                (PatternColumn::SampleCount, "@sampleCount"),
                (PatternColumn::PreviousCount, "@previousSampleCount"),
                (PatternColumn::DiffCount, "@diffEventCount"),
                (PatternColumn::Description, "@differenceDescription"),
                (PatternColumn::Severity, "@severityLabel"),
            ]);
        } else {
            columns.extend([
                (PatternColumn::Ratio, "@ratio"),
                (PatternColumn::SampleCount, "@sampleCount"),
                (PatternColumn::Severity, "@severityLabel"),
            ]);
        }
        let outputs = self.result_columns(&columns);
        self.stages.push(Stage::Patterns(Box::new(Patterns {
            signature,
            count,
            window,
            minute: None,
            outputs,
        })));
        Ok(())
    }

    /// `anomaly`, right after `pattern`: the templates' counts per minute are kept too, and
    /// the anomaly columns added.
    pub(super) fn anomaly(&mut self, command: &Command) -> Result<(), PlanError> {
        let minute = self.slot("\u{0}pattern:minute");
        let n = self.stages.len();
        let (Some(Stage::Stats(stats)), Some(Stage::Patterns(patterns))) = (
            self.stages.get(n.wrapping_sub(2)),
            self.stages.get(n.wrapping_sub(1)),
        ) else {
            return Err(anomaly_needs_pattern(command.word_span));
        };
        let Some(time) = stats
            .timestamp
            .filter(|_| patterns.window.is_none() && patterns.minute.is_none())
        else {
            return Err(anomaly_needs_pattern(command.word_span));
        };
        let added = self.result_columns(&[
            (PatternColumn::IsAnomaly, "@isAnomaly"),
            (PatternColumn::AnomalyType, "@anomalyType"),
            (PatternColumn::AnomalyScore, "@anomalyScore"),
            (PatternColumn::AnomalyTime, "@anomalyTime"),
        ]);
        let (head, tail) = self.stages.split_at_mut(n - 1);
        let (Some(Stage::Stats(stats)), Some(Stage::Patterns(patterns))) =
            (head.last_mut(), tail.first_mut())
        else {
            return Err(anomaly_needs_pattern(command.word_span));
        };
        let Some(period) = crate::functions::parse_period("1m") else {
            return Err(anomaly_needs_pattern(command.word_span));
        };
        stats.groups.push((
            minute,
            CExpr::Floor {
                time: Box::new(CExpr::Slot(time)),
                period,
                shift_ms: 0,
            },
        ));
        stats.output_slots.push(minute);
        patterns.minute = Some(minute);
        patterns.outputs.extend(added);
        Ok(())
    }

    /// Makes `columns` the result (after a stats-like command only they exist).
    fn result_columns(
        &mut self,
        columns: &[(PatternColumn, &str)],
    ) -> Vec<(PatternColumn, crate::plan::Slot)> {
        // anomaly adds to pattern's columns.
        let mut scope: HashSet<String> =
            if let (Some(scope), Some((PatternColumn::IsAnomaly, _))) = (&self.scope, columns.first()) {
                scope.clone()
            } else {
                self.columns.clear();
                HashSet::new()
            };
        let mut outputs = Vec::with_capacity(columns.len());
        for (column, name) in columns {
            let slot = self.slot(name);
            scope.insert((*name).to_string());
            self.columns.push(Column {
                name: (*name).to_string(),
                slot,
            });
            outputs.push((*column, slot));
        }
        if !matches!(columns.first(), Some((PatternColumn::IsAnomaly, _))) {
            self.stats_count += 1;
        }
        self.scope = Some(scope);
        self.columns_chosen = true;
        outputs
    }

    pub(super) fn relevant_fields(
        &mut self,
        command: &Command,
        fields: &[Name],
        condition: &Expr,
    ) -> Result<(), PlanError> {
        // Without a list, every field of the events' JSON (read from @message when it runs).
        let every_field = if fields.is_empty() {
            if self.scope.is_some() {
                return Err(PlanError::new(
                    "after stats, relevantfields needs the fields to compare, such as `relevantfields n, avg where n > 10`",
                    command.word_span,
                ));
            }
            Some(self.resolve_field("@message"))
        } else {
            None
        };
        let compiled = self.row_expr(condition)?;
        let condition_slot = self.slot("\u{0}relevantfields:condition");
        self.stages.push(Stage::Compute(vec![(condition_slot, compiled)]));
        let mut read = Vec::with_capacity(fields.len());
        for field in fields {
            let slot = self.named_slot(field)?;
            read.push((field.name.clone(), slot));
        }
        let names = [
            "@fieldName",
            "@relevanceScore",
            "@topRelevanceContributors",
            "@conditionalMedian",
            "@baselineMedian",
        ];
        self.columns.clear();
        let mut scope = HashSet::new();
        let mut outputs = [0; 5];
        for (i, name) in names.iter().enumerate() {
            let slot = self.slot(name);
            scope.insert((*name).to_string());
            self.columns.push(Column {
                name: (*name).to_string(),
                slot,
            });
            outputs[i] = slot;
        }
        self.stats_count += 1;
        self.scope = Some(scope);
        self.columns_chosen = true;
        self.stages
            .push(Stage::Rows(Box::new(RowStage::RelevantFields(Box::new(
                RelevantFields {
                    fields: read,
                    every_field,
                    condition: condition_slot,
                    outputs,
                },
            )))));
        Ok(())
    }
}

fn anomaly_needs_pattern(span: Span) -> PlanError {
    PlanError::new(
        "anomaly comes right after pattern (`pattern @message | anomaly`)",
        span,
    )
}
