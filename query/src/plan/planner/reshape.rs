//! Planning the commands that reshape rows: `unnest`, `expand`, `json`, `filterIndex`, the
//! row-window commands, and `stats … offset`.

use std::collections::HashSet;

use super::{split_path, Planner, SYSTEM_FIELDS};
use crate::functions::{parse_period, scalar};
use crate::plan::rows::{self, RowStage};
use crate::plan::{CExpr, ExpandStage, LookupStage, PlanError, Slot, SortStage, Stage};
use crate::syntax::ast::{
    BinaryOp, Command, Expr, ExprKind, Lookup, Name, Projection, RowCommand, SourceClause,
};
use crate::syntax::span::Span;

/// Sessions end after this much inactivity unless `maxspan` says otherwise.
const DEFAULT_MAXSPAN: &str = "30m";

impl Planner<'_> {
    pub(super) fn unnest(&mut self, source: &Expr, alias: &Name) -> Result<(), PlanError> {
        let (source, fallback) = self.list_source(source)?;
        let slot = self.define(&alias.name, alias.span)?;
        self.add_column(&alias.name, slot);
        self.stages.push(Stage::Expand(Box::new(ExpandStage {
            source,
            fallback,
            slot,
            keep_missing: false,
        })));
        Ok(())
    }

    pub(super) fn expand(&mut self, field: &Expr) -> Result<(), PlanError> {
        let (source, fallback) = self.list_source(field)?;
        let CExpr::Slot(slot) = source else {
            return Err(PlanError::new(
                "expand takes a field name; to expand a value inside a map, use unnest … into",
                field.span,
            ));
        };
        self.stages.push(Stage::Expand(Box::new(ExpandStage {
            source: CExpr::Slot(slot),
            fallback,
            slot,
            keep_missing: true,
        })));
        Ok(())
    }

    /// The list a row expands: the expression, and for a field of the event itself, its array in
    /// the event's JSON (the reader keeps only an array's leaves, `items.0`, `items.1`).
    fn list_source(&mut self, expr: &Expr) -> Result<(CExpr, Option<CExpr>), PlanError> {
        let compiled = self.row_expr(expr)?;
        let fallback = match (&expr.kind, &compiled) {
            (ExprKind::Field(name), CExpr::Slot(_))
                if self.scope.is_none()
                    && !self.defined_before_stats.contains(name.as_str())
                    && !SYSTEM_FIELDS.contains(&name.as_str()) =>
            {
                let message = self.resolve_field("@message");
                scalar("jsonParse").map(|function| {
                    CExpr::Path(
                        Box::new(CExpr::Call {
                            function,
                            args: vec![CExpr::Slot(message)],
                        }),
                        split_path(name),
                    )
                })
            }
            _ => None,
        };
        Ok((compiled, fallback))
    }

    /// `filterIndex f = v` / `filterIndex f in [...]`: logq keeps no field indexes, so it filters
    /// every event (the service skips log groups without an index on `f`).
    pub(super) fn filter_index(&mut self, expr: &Expr) -> Result<(), PlanError> {
        let field_first = match &expr.kind {
            ExprKind::Binary(BinaryOp::Eq, field, value) => {
                matches!(field.kind, ExprKind::Field(_)) && is_literal(value)
            }
            ExprKind::In {
                expr: field,
                list,
                negated: false,
            } => matches!(field.kind, ExprKind::Field(_)) && list.iter().all(is_literal),
            _ => false,
        };
        if !field_first {
            return Err(PlanError::new(
                "filterIndex takes <field> = <value> or <field> in [<values>]",
                expr.span,
            ));
        }
        let compiled = self.row_expr(expr)?;
        self.stages.push(Stage::Filter(compiled));
        Ok(())
    }

    /// `json field=src "a.b" as alias`: the value at `a.b` of `src` read as JSON.
    pub(super) fn json(&mut self, source: &Expr, path: &str, alias: &Name) -> Result<(), PlanError> {
        // An object of the event itself is read from the event's JSON (the reader keeps leaves).
        let (source, fallback) = self.list_source(source)?;
        let (Some(parse), Some(coalesce)) = (scalar("jsonParse"), scalar("coalesce")) else {
            return Err(PlanError::new("jsonParse is missing", alias.span));
        };
        let keys = split_path(path);
        let slot = self.define(&alias.name, alias.span)?;
        self.add_column(&alias.name, slot);
        let mut value = CExpr::Path(
            Box::new(CExpr::Call {
                function: parse,
                args: vec![source],
            }),
            keys.clone(),
        );
        if let Some(fallback) = fallback {
            value = CExpr::Call {
                function: coalesce,
                args: vec![value, CExpr::Path(Box::new(fallback), keys)],
            };
        }
        self.stages.push(Stage::Compute(vec![(slot, value)]));
        Ok(())
    }

    /// `… by bin(p) offset d`: the bins of the stats just planned are labelled `d` later.
    pub(super) fn shift_bins(&mut self, text: &str, span: Span) -> Result<(), PlanError> {
        let Some(shift) = parse_period(text).and_then(|p| p.fixed_ms()) else {
            return Err(PlanError::new(
                format!("offset takes a fixed time period such as 30m, 1h, 1d or 1w, found '{text}'"),
                span,
            ));
        };
        let Some(Stage::Stats(stats)) = self.stages.last_mut() else {
            return Err(PlanError::new("offset belongs to a stats command", span));
        };
        let mut shifted = false;
        for (_, group) in &mut stats.groups {
            if let CExpr::Floor { shift_ms, .. } = group {
                *shift_ms = shift;
                shifted = true;
            }
        }
        if !shifted {
            return Err(PlanError::new(
                "offset shifts the bins of a `by bin(<period>)` term, and this stats has none",
                span,
            ));
        }
        Ok(())
    }

    /// `SOURCE …`: kept for whoever picks the inputs; its times must read as times.
    pub(super) fn source_clause(&mut self, clause: &SourceClause) -> Result<(), PlanError> {
        for (text, span) in clause.start.iter().chain(&clause.end) {
            if let Err(e) = skywatch_time::parse_time_arg(text, 0) {
                return Err(PlanError::new(e, *span));
            }
        }
        self.source_clause = Some(clause.clone());
        Ok(())
    }

    pub(super) fn lookup(&mut self, lookup: &Lookup) -> Result<(), PlanError> {
        let mut keys = Vec::with_capacity(lookup.matches.len());
        for (column, field) in &lookup.matches {
            keys.push((column.name.clone(), self.field(&field.name, field.span)?));
        }
        let mut outputs = Vec::with_capacity(lookup.outputs.len());
        for (column, field) in &lookup.outputs {
            // An output may be a field the event already has (OUTPUTNEW keeps it); after stats,
            // a new name.
            let slot = if self.scope.is_none() || self.is_defined(&field.name) {
                self.named_slot(field)?
            } else {
                self.slot(&field.name)
            };
            self.make_visible(&field.name);
            self.add_column(&field.name, slot);
            outputs.push((column.name.clone(), slot));
        }
        self.stages.push(Stage::Lookup(Box::new(LookupStage {
            table: lookup.table.name.clone(),
            cidr: lookup.cidr,
            keys,
            new_only: lookup.new_only,
            outputs,
            loaded: std::sync::OnceLock::new(),
        })));
        Ok(())
    }

    pub(super) fn row_command(&mut self, command: &Command, rows: &RowCommand) -> Result<(), PlanError> {
        let stage = match rows {
            RowCommand::Accum { field, alias } => {
                let source = self.named_slot(field)?;
                let out = match alias {
                    Some(alias) => {
                        let slot = self.define(&alias.name, alias.span)?;
                        self.add_column(&alias.name, slot);
                        slot
                    }
                    None => source,
                };
                RowStage::Accum { source, out }
            }
            RowCommand::Autoregress { field, alias, lags } => {
                let source = self.named_slot(field)?;
                let mut outs = Vec::new();
                for lag in lags.0..=lags.1 {
                    let name = match alias {
                        Some(alias) => alias.name.clone(),
                        None => format!("{}_p{lag}", field.name),
                    };
                    let span = alias.as_ref().map_or(field.span, |a| a.span);
                    let slot = self.define(&name, span)?;
                    self.add_column(&name, slot);
                    outs.push((usize::try_from(lag).unwrap_or(usize::MAX), slot));
                }
                RowStage::Autoregress { source, outs }
            }
            RowCommand::Filldown(names) => RowStage::Filldown(self.slots_matching(names)?),
            RowCommand::Fillmissing(fills) => self.fillmissing(command, fills)?,
            RowCommand::Addtotals(totals) => {
                let mut fields = self.slots_matching(&totals.fields)?;
                let total = if totals.row {
                    let slot = self.make_visible(&totals.fieldname);
                    fields.retain(|f| *f != slot);
                    self.add_column(&totals.fieldname, slot);
                    Some(slot)
                } else {
                    None
                };
                let label = match &totals.labelfield {
                    Some(name) => {
                        let slot = self.make_visible(name);
                        self.add_column(name, slot);
                        Some((slot, totals.label.clone()))
                    }
                    None => None,
                };
                RowStage::Addtotals(rows::Addtotals {
                    fields,
                    total,
                    col: totals.col,
                    label,
                })
            }
            RowCommand::Outlier(outlier) => {
                if outlier.fields.is_empty() {
                    return Err(PlanError::new(
                        "outlier needs the numeric fields to check, such as `outlier latency`",
                        command.span,
                    ));
                }
                let fields = self.slots_matching(&outlier.fields)?;
                let mark = if outlier.mark && !outlier.remove {
                    let slot = self.make_visible("_outlier");
                    self.add_column("_outlier", slot);
                    Some(slot)
                } else {
                    None
                };
                RowStage::Outlier(rows::Outlier {
                    fields,
                    remove: outlier.remove,
                    param: outlier.param,
                    uselower: outlier.uselower,
                    mark,
                })
            }
            RowCommand::Sessionize {
                fields,
                maxspan,
                alias,
            } => {
                let mut keys = Vec::with_capacity(fields.len());
                for field in fields {
                    keys.push(self.row_expr(field)?);
                }
                let (text, span) = maxspan
                    .clone()
                    .unwrap_or_else(|| (DEFAULT_MAXSPAN.to_string(), command.word_span));
                let Some(maxspan_ms) = parse_period(&text).and_then(|p| p.fixed_ms()) else {
                    return Err(PlanError::new(
                        format!("maxspan takes a fixed time period such as 30m or 1h, found '{text}'"),
                        span,
                    ));
                };
                let Some(time) = self.visible_slot("@timestamp") else {
                    return Err(PlanError::new(
                        "sessionize reads @timestamp, which does not exist after this stats",
                        command.word_span,
                    ));
                };
                let (name, span) = alias
                    .as_ref()
                    .map_or(("session_id".to_string(), command.word_span), |a| {
                        (a.name.clone(), a.span)
                    });
                let out = self.define(&name, span)?;
                self.add_column(&name, out);
                RowStage::Sessionize(rows::Sessionize {
                    keys,
                    time,
                    maxspan_ms,
                    out,
                })
            }
            RowCommand::CountFrequent(fields) => return self.count_frequent(command, fields),
        };
        self.stages.push(Stage::Rows(Box::new(stage)));
        Ok(())
    }

    /// `countFrequent f, …` is `stats count(*) as _approxcount by f, … | sort _approxcount desc`
    /// (logq counts exactly).
    fn count_frequent(&mut self, command: &Command, fields: &[Expr]) -> Result<(), PlanError> {
        let span = command.word_span;
        let count = Projection {
            expr: Expr {
                kind: ExprKind::Call {
                    name: "count".to_string(),
                    name_span: span,
                    args: vec![Expr {
                        kind: ExprKind::Star,
                        span,
                    }],
                },
                span,
            },
            alias: Some(Name {
                name: "_approxcount".to_string(),
                span,
            }),
        };
        let by: Vec<Projection> = fields
            .iter()
            .map(|f| Projection {
                expr: f.clone(),
                alias: None,
            })
            .collect();
        self.stats(command, &[count], &by)?;
        let slot = self.slot("_approxcount");
        self.explicit_sort = true;
        self.stages.push(Stage::Sort(SortStage {
            keys: vec![(CExpr::Slot(slot), true)],
            keep: None,
        }));
        Ok(())
    }

    fn fillmissing(&mut self, command: &Command, fills: &[(Expr, Name)]) -> Result<RowStage, PlanError> {
        let Some(stats) = self.stages.iter().rev().find_map(|s| match s {
            Stage::Stats(stats) => Some(stats),
            _ => None,
        }) else {
            return Err(PlanError::new(
                "fillmissing fills the empty bins of a `stats … by bin(<period>)` before it",
                command.word_span,
            ));
        };
        let Some((bin, period, shift_ms)) = stats.groups.iter().find_map(|(slot, e)| match e {
            CExpr::Floor { period, shift_ms, .. } => Some((*slot, *period, *shift_ms)),
            _ => None,
        }) else {
            return Err(PlanError::new(
                "fillmissing needs the stats before it to group `by bin(<period>)`",
                command.word_span,
            ));
        };
        let others: Vec<Slot> = stats
            .groups
            .iter()
            .map(|(slot, _)| *slot)
            .filter(|slot| *slot != bin)
            .collect();
        let mut constants = Vec::with_capacity(fills.len());
        for (value, name) in fills {
            let Some(&slot) = self.slots.get(&name.name).filter(|_| self.is_defined(&name.name)) else {
                return Err(PlanError::new(
                    format!(
                        "fillmissing can fill only fields the stats makes; '{}' is not one",
                        name.name
                    ),
                    name.span,
                ));
            };
            let CExpr::Const(Some(constant)) = self.row_expr(value)? else {
                return Err(PlanError::new(
                    "fillmissing fills with a literal value",
                    value.span,
                ));
            };
            constants.push((slot, constant));
        }
        Ok(RowStage::Fillmissing(rows::Fillmissing {
            bin,
            period,
            shift_ms,
            others,
            fills: constants,
        }))
    }

    /// The slot of a field a row-window command reads or writes.
    pub(super) fn named_slot(&mut self, name: &Name) -> Result<Slot, PlanError> {
        match self.field(&name.name, name.span)? {
            CExpr::Slot(slot) => Ok(slot),
            _ => Err(PlanError::new(
                format!(
                    "'{}' is inside a map; name it first with `fields {} as <name>`",
                    name.name, name.name
                ),
                name.span,
            )),
        }
    }

    /// The slots the names select: a name ending in `*` selects the result columns it starts;
    /// no names select every column.
    fn slots_matching(&mut self, names: &[Name]) -> Result<Vec<Slot>, PlanError> {
        if names.is_empty() || names.iter().any(|n| n.name == "*") {
            return Ok(self.columns.iter().map(|c| c.slot).collect());
        }
        let mut slots = Vec::new();
        for name in names {
            if let Some(prefix) = name.name.strip_suffix('*') {
                let matched: Vec<Slot> = self
                    .columns
                    .iter()
                    .filter(|c| c.name.starts_with(prefix))
                    .map(|c| c.slot)
                    .collect();
                if matched.is_empty() {
                    return Err(PlanError::new(
                        format!("no field of the result so far starts with '{prefix}'"),
                        name.span,
                    ));
                }
                slots.extend(matched);
            } else {
                slots.push(self.named_slot(name)?);
            }
        }
        // Each once, in the order named (`addtotals ab, a*` sums `ab` once).
        let mut seen = HashSet::new();
        slots.retain(|slot| seen.insert(*slot));
        Ok(slots)
    }
}

impl RowStage {
    /// Whether the stage reads row slot `slot` (so a parse before it must fill it).
    pub fn reads_slot(&self, slot: Slot) -> bool {
        match self {
            RowStage::Accum { source, .. } | RowStage::Autoregress { source, .. } => *source == slot,
            RowStage::Filldown(slots) => slots.contains(&slot),
            RowStage::Fillmissing(_) | RowStage::Appendcols(_) => false,
            RowStage::RelevantFields(r) => {
                r.condition == slot || r.every_field == Some(slot) || r.fields.iter().any(|(_, s)| *s == slot)
            }
            RowStage::Addtotals(totals) => totals.fields.contains(&slot),
            RowStage::Outlier(outlier) => outlier.fields.contains(&slot),
            RowStage::Sessionize(s) => s.time == slot || s.keys.iter().any(|k| k.reads_slot(slot)),
        }
    }
}

fn is_literal(expr: &Expr) -> bool {
    matches!(expr.kind, ExprKind::Str(_) | ExprKind::Num(_) | ExprKind::Bool(_))
}

/// Aliases numbered from `first`, as (capture number, name, span).
pub(super) fn numbered(aliases: &[Name], first: usize) -> Vec<(usize, String, Span)> {
    aliases
        .iter()
        .enumerate()
        .map(|(i, a)| (i + first, a.name.clone(), a.span))
        .collect()
}

/// The fields a parse regex makes: its named groups, or with `as a, b` its groups in order
/// (named or not; a regex without groups gives its whole match to one name).
pub(super) fn regex_captures(
    regex: &regex::Regex,
    aliases: &[Name],
    span: Span,
) -> Result<Vec<(usize, String, Span)>, PlanError> {
    let groups = regex.captures_len() - 1;
    if aliases.is_empty() {
        let names: Vec<(usize, String, Span)> = regex
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, n.to_string(), span)))
            .collect();
        if names.is_empty() {
            return Err(PlanError::new(
                "a parse regex needs named groups such as (?<name>...), or `as <names>` for its groups",
                span,
            ));
        }
        return Ok(names);
    }
    if groups == 0 && aliases.len() == 1 {
        return Ok(numbered(aliases, 0));
    }
    if groups != aliases.len() {
        let groups = match groups {
            1 => "1 group".to_string(),
            n => format!("{n} groups"),
        };
        let names = match aliases.len() {
            1 => "1 name follows".to_string(),
            n => format!("{n} names follow"),
        };
        return Err(PlanError::new(
            format!("the regex has {groups} but {names} 'as'"),
            span,
        ));
    }
    Ok(numbered(aliases, 1))
}
