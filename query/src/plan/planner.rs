//! The planner proper: one pass over the commands, tracking which names exist at each point.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::diagnostic::did_you_mean;
use crate::functions::{parse_period, scalar, scalar_names};
use crate::plan::aggregate::{aggregate, AggKind, AggSpec, StatsStage};
use crate::plan::expr::{CExpr, Matcher};
use crate::plan::glob::GlobPattern;
use crate::plan::{
    Column, InputFields, ParseMatcher, ParseStage, Plan, PlanError, Slot, SortStage, Stage, Subquery,
};
use crate::syntax::ast::{
    Command, CommandKind, Expr, ExprKind, Parse, ParsePattern, Projection, Query, SourceClause, UnaryOp,
};
use crate::syntax::span::Span;
use crate::value::Value;
use reshape::{numbered, regex_captures};

mod reshape;
mod subqueries;
mod templates;

/// Rows returned when the query has no `limit`.
pub const DEFAULT_LIMIT: u64 = 10_000;
/// The largest `limit` the service accepts.
pub const MAX_LIMIT: u64 = 100_000;
/// `stats` commands per query (the documentation says 2, recent reports 10; we accept 10).
pub const MAX_STATS: usize = 10;
/// Branches of `case()`.
const MAX_CASE_BRANCHES: usize = 10;

const SYSTEM_FIELDS: &[&str] = &[
    "@timestamp",
    "@message",
    "@logStream",
    "@log",
    "@ingestionTime",
    "@ptr",
];

/// Checks `query` and turns it into a plan.
pub fn plan_query(query: &Query, source: &str) -> Result<Plan, PlanError> {
    plan_with(query, source, false)
}

/// A query inside the query: planned as a query of its own, but without the default row limit
/// (its whole result feeds the outer query).
fn plan_subquery(query: &Query, source: &str) -> Result<Plan, PlanError> {
    plan_with(query, source, true)
}

fn plan_with(query: &Query, source: &str, unlimited: bool) -> Result<Plan, PlanError> {
    check_not_yet_supported(query)?;
    let mut planner = Planner::new(source);
    planner.unlimited = unlimited;
    let count = query.commands.len();
    for (i, command) in query.commands.iter().enumerate() {
        planner.check_order(query, i)?;
        planner.command(command, i + 1 == count)?;
    }
    planner.finish()
}

/// Ordering rules that involve commands logq does not run yet come first (so a query that breaks
/// them gets the reason, not "not supported yet"), then the first such command is reported.
fn check_not_yet_supported(query: &Query) -> Result<(), PlanError> {
    let mut joins = 0;
    let mut seen_sort = false;
    for (i, command) in query.commands.iter().enumerate() {
        match &command.kind {
            CommandKind::Source(_) if i > 0 => {
                return Err(PlanError::new(
                    "SOURCE must be the first command of a query",
                    command.word_span,
                ));
            }
            CommandKind::Join(_) => {
                joins += 1;
                if joins > 1 {
                    return Err(PlanError::new(
                        "a query can have only one join",
                        command.word_span,
                    ));
                }
            }
            CommandKind::Pattern(_) if seen_sort => {
                return Err(PlanError::new(
                    "pattern cannot come after sort",
                    command.word_span,
                ));
            }
            CommandKind::Sort(_) => seen_sort = true,
            _ => {}
        }
    }
    match query
        .commands
        .iter()
        .find(|c| matches!(c.kind, CommandKind::NotSupported(_)))
    {
        Some(command) => Err(PlanError::new(
            format!("not supported yet: {}", command.kind.name()),
            command.word_span,
        )),
        None => Ok(()),
    }
}

struct Planner<'a> {
    source: &'a str,
    slot_names: Vec<String>,
    slots: HashMap<String, Slot>,
    input: InputFields,
    stages: Vec<Stage>,
    columns: Vec<Column>,
    /// Names visible to expressions; `None` before the first stats (every event field is).
    scope: Option<HashSet<String>>,
    /// Names created by the query so far (aliases, parse fields): they may not be defined again.
    ephemeral: HashSet<String>,
    /// Names defined before the first stats, which shadow event fields of the same name.
    defined_before_stats: HashSet<String>,
    stats_count: usize,
    /// The last sort or limit, to reject a later stats.
    sort_or_limit: Option<Span>,
    dedup: Option<Span>,
    explicit_sort: bool,
    limit: Option<u64>,
    /// Whether a `limit any` asked for rows in no particular order.
    limit_any: bool,
    /// The query's `SOURCE`, if it has one.
    source_clause: Option<SourceClause>,
    /// A subquery: no default row limit.
    unlimited: bool,
    /// The query's `join`, while later commands name its right side's fields.
    join: Option<subqueries::PendingJoin>,
    /// `diff`/`logcompare`: the earlier window to read too.
    earlier_window: Option<String>,
    /// Whether a `filter` is being planned (the one place a subquery may be).
    in_filter: bool,
    /// Whether the columns were chosen explicitly (fields, display, parse, stats).
    columns_chosen: bool,
}

impl<'a> Planner<'a> {
    fn new(source: &'a str) -> Planner<'a> {
        let mut planner = Planner {
            source,
            slot_names: Vec::new(),
            slots: HashMap::new(),
            input: InputFields::default(),
            stages: Vec::new(),
            columns: Vec::new(),
            scope: None,
            ephemeral: HashSet::new(),
            defined_before_stats: HashSet::new(),
            stats_count: 0,
            sort_or_limit: None,
            dedup: None,
            explicit_sort: false,
            limit: None,
            limit_any: false,
            source_clause: None,
            unlimited: false,
            join: None,
            earlier_window: None,
            in_filter: false,
            columns_chosen: false,
        };
        planner.input.timestamp = planner.slot("@timestamp");
        planner
    }

    fn slot(&mut self, name: &str) -> Slot {
        if let Some(&slot) = self.slots.get(name) {
            return slot;
        }
        let slot = self.slot_names.len();
        self.slot_names.push(name.to_string());
        self.slots.insert(name.to_string(), slot);
        slot
    }

    fn text(&self, span: Span) -> String {
        span.text(self.source).trim().to_string()
    }

    fn check_order(&self, query: &Query, index: usize) -> Result<(), PlanError> {
        let command = &query.commands[index];
        if let Some(dedup) = self.dedup {
            if !matches!(command.kind, CommandKind::Limit(_)) {
                return Err(PlanError::new(
                    format!(
                        "only 'limit' can follow 'dedup' (at {}), found '{}'",
                        dedup.start,
                        command.kind.name()
                    ),
                    command.word_span,
                ));
            }
        }
        if let (CommandKind::Stats(_), Some(earlier)) = (&command.kind, self.sort_or_limit) {
            return Err(PlanError::new(
                format!(
                    "'{}' must come after the last stats; move it below this stats",
                    earlier
                        .text(self.source)
                        .split_whitespace()
                        .next()
                        .unwrap_or("sort")
                ),
                earlier,
            ));
        }
        Ok(())
    }

    fn command(&mut self, command: &Command, is_last: bool) -> Result<(), PlanError> {
        match &command.kind {
            CommandKind::Fields(items) => self.fields(items),
            CommandKind::Display(items) => self.display(items),
            CommandKind::Filter(expr) => {
                // A subquery is allowed here only (it runs before the query, for filters).
                self.in_filter = true;
                let compiled = self.row_expr(expr);
                self.in_filter = false;
                let compiled = compiled?;
                self.stages.push(Stage::Filter(compiled));
                Ok(())
            }
            CommandKind::Stats(stats) => {
                self.stats(command, &stats.aggregates, &stats.by)?;
                match &stats.offset {
                    Some((text, span)) => self.shift_bins(text, *span),
                    None => Ok(()),
                }
            }
            CommandKind::Sort(keys) => {
                let mut compiled = Vec::with_capacity(keys.len());
                for key in keys {
                    compiled.push((self.row_expr(&key.expr)?, key.descending));
                }
                self.explicit_sort = true;
                self.sort_or_limit = Some(command.word_span);
                self.stages.push(Stage::Sort(SortStage {
                    keys: compiled,
                    keep: None,
                }));
                Ok(())
            }
            CommandKind::Limit(n) | CommandKind::LimitAny(n) => {
                if *n > MAX_LIMIT {
                    return Err(PlanError::new(
                        format!("limit must be at most {MAX_LIMIT}, found {n}"),
                        command.span,
                    ));
                }
                self.sort_or_limit = Some(command.word_span);
                if is_last {
                    self.limit = Some(*n);
                }
                // `limit any` takes rows as they come.
                self.limit_any |= matches!(command.kind, CommandKind::LimitAny(_));
                self.stages.push(Stage::Limit(*n));
                Ok(())
            }
            CommandKind::Parse(parse) => self.parse(parse),
            CommandKind::Dedup(keys) => {
                let mut compiled = Vec::with_capacity(keys.len());
                for key in keys {
                    compiled.push(self.row_expr(key)?);
                }
                if !self.explicit_sort && self.stats_count == 0 {
                    // Without a sort, dedup keeps the newest event per key.
                    self.push_default_sort();
                }
                self.dedup = Some(command.word_span);
                self.stages.push(Stage::Dedup(compiled));
                Ok(())
            }
            CommandKind::Unnest { source, alias } => self.unnest(source, alias),
            CommandKind::Expand(field) => self.expand(field),
            CommandKind::FilterIndex(expr) => self.filter_index(expr),
            CommandKind::Json { source, path, alias } => self.json(source, path, alias),
            CommandKind::Rows(rows) => self.row_command(command, rows),
            CommandKind::Source(clause) => self.source_clause(clause),
            CommandKind::Lookup(lookup) => self.lookup(lookup),
            CommandKind::Join(join) => self.join(join),
            CommandKind::Appendcols {
                overwrite,
                max,
                query,
            } => self.appendcols(*overwrite, *max, query),
            CommandKind::Pattern(field) => self.pattern(command, field, None),
            CommandKind::Diff(shift) => {
                let shift = shift
                    .clone()
                    .unwrap_or_else(|| (String::new(), command.word_span));
                let message = Expr {
                    kind: ExprKind::Field("@message".to_string()),
                    span: command.word_span,
                };
                self.pattern(command, &message, Some(&shift))
            }
            CommandKind::Anomaly => self.anomaly(command),
            CommandKind::RelevantFields { fields, condition } => {
                self.relevant_fields(command, fields, condition)
            }
            CommandKind::NotSupported(name) => Err(PlanError::new(
                format!("not supported yet: {name}"),
                command.word_span,
            )),
        }
    }

    fn push_default_sort(&mut self) {
        let sort = self.default_sort();
        self.stages.push(sort);
    }

    /// `sort @timestamp desc`: events newest first, the order the service gives them in.
    fn default_sort(&self) -> Stage {
        Stage::Sort(SortStage {
            keys: vec![(CExpr::Slot(self.input.timestamp), true)],
            keep: None,
        })
    }

    fn define(&mut self, name: &str, span: Span) -> Result<Slot, PlanError> {
        if self.ephemeral.contains(name) {
            return Err(PlanError::new(
                format!("Ephemeral field is already defined: {name}"),
                span,
            ));
        }
        self.ephemeral.insert(name.to_string());
        Ok(self.make_visible(name))
    }

    /// Makes `name` visible to later commands (in the current segment) and returns its slot.
    fn make_visible(&mut self, name: &str) -> Slot {
        match &mut self.scope {
            Some(scope) => {
                scope.insert(name.to_string());
            }
            None => {
                self.defined_before_stats.insert(name.to_string());
            }
        }
        self.slot(name)
    }

    fn add_column(&mut self, name: &str, slot: Slot) {
        self.columns_chosen = true;
        if !self.columns.iter().any(|c| c.name == name) {
            self.columns.push(Column {
                name: name.to_string(),
                slot,
            });
        }
    }

    fn fields(&mut self, items: &[Projection]) -> Result<(), PlanError> {
        let mut computed = Vec::new();
        for item in items {
            let compiled = self.row_expr(&item.expr)?;
            match (&item.alias, &compiled) {
                (None, CExpr::Slot(slot)) => {
                    let name = self.field_name(&item.expr);
                    self.add_column(&name, *slot);
                }
                (None, _) => {
                    let name = self.text(item.expr.span);
                    let slot = self.make_visible(&name);
                    computed.push((slot, compiled));
                    self.add_column(&name, slot);
                }
                (Some(alias), _) => {
                    let slot = self.define(&alias.name, alias.span)?;
                    computed.push((slot, compiled));
                    self.add_column(&alias.name, slot);
                }
            }
        }
        if !computed.is_empty() {
            self.stages.push(Stage::Compute(computed));
        }
        Ok(())
    }

    fn display(&mut self, items: &[Projection]) -> Result<(), PlanError> {
        let mut computed = Vec::new();
        let mut columns = Vec::new();
        for item in items {
            let compiled = self.row_expr(&item.expr)?;
            let name = match &item.alias {
                Some(alias) => alias.name.clone(),
                None if matches!(compiled, CExpr::Slot(_)) => self.field_name(&item.expr),
                None => self.text(item.expr.span),
            };
            let slot = match compiled {
                CExpr::Slot(slot) if item.alias.is_none() => slot,
                other => {
                    let slot = self.slot(&format!("\u{0}display:{name}"));
                    computed.push((slot, other));
                    slot
                }
            };
            columns.push(Column { name, slot });
        }
        if !computed.is_empty() {
            self.stages.push(Stage::Compute(computed));
        }
        // The last display decides the columns.
        self.columns = columns;
        self.columns_chosen = true;
        Ok(())
    }

    fn field_name(&self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Field(name) => split_path(name).join("."),
            _ => self.text(expr.span),
        }
    }

    fn parse(&mut self, parse: &Parse) -> Result<(), PlanError> {
        let source = self.row_expr(&parse.source)?;
        let (matcher, names): (ParseMatcher, Vec<(usize, String, Span)>) = match &parse.pattern {
            ParsePattern::Glob {
                pattern,
                span,
                aliases,
            } => {
                let stars = pattern.matches('*').count();
                if stars != aliases.len() {
                    return Err(PlanError::new(
                        format!(
                            "the pattern has {stars} '*' but {} names follow 'as'",
                            aliases.len()
                        ),
                        *span,
                    ));
                }
                (
                    ParseMatcher::Glob(Box::new(GlobPattern::new(pattern))),
                    numbered(aliases, 1),
                )
            }
            ParsePattern::Regex {
                pattern,
                span,
                aliases,
            } => {
                let regex = compile_regex(pattern, *span)?;
                let names = regex_captures(&regex, aliases, *span)?;
                (ParseMatcher::Regex(regex), names)
            }
            ParsePattern::Logfmt { alias } => {
                (ParseMatcher::Logfmt, numbered(std::slice::from_ref(alias), 1))
            }
            ParsePattern::Csv { aliases } => (ParseMatcher::Csv, numbered(aliases, 1)),
        };
        let mut captures = Vec::with_capacity(names.len());
        for (group, name, span) in names {
            let slot = self.define(&name, span)?;
            self.add_column(&name, slot);
            captures.push((group, slot));
        }
        self.stages.push(Stage::Parse(Box::new(ParseStage {
            source,
            matcher,
            captures,
            multi: parse.multi,
        })));
        Ok(())
    }

    fn stats(&mut self, command: &Command, items: &[Projection], by: &[Projection]) -> Result<(), PlanError> {
        if self.stats_count + 1 > MAX_STATS {
            return Err(PlanError::new(
                format!("a query can have at most {MAX_STATS} stats commands"),
                command.word_span,
            ));
        }
        let mut groups = Vec::with_capacity(by.len());
        let mut group_names = Vec::with_capacity(by.len());
        for term in by {
            let compiled = self.row_expr(&term.expr)?;
            let name = match &term.alias {
                Some(alias) => alias.name.clone(),
                None => self.field_name(&term.expr),
            };
            if let Some(alias) = &term.alias {
                if self.ephemeral.contains(&alias.name) {
                    return Err(PlanError::new(
                        format!("Ephemeral field is already defined: {}", alias.name),
                        alias.span,
                    ));
                }
            }
            groups.push((self.slot(&name), compiled));
            group_names.push(name);
        }

        let timestamp = self.visible_slot("@timestamp");
        let mut stage = StatsStage {
            groups,
            aggregates: Vec::new(),
            outputs: Vec::new(),
            timestamp,
            output_slots: Vec::new(),
        };
        let mut outputs: Vec<(String, Span)> = Vec::new();
        // Aliases defined earlier in this stats, usable by later items: name → item index.
        let mut local: HashMap<String, usize> = HashMap::new();
        for item in items {
            let compiled = self.stats_expr(&item.expr, &mut stage, &local)?;
            if !contains_aggregate(&compiled) {
                return Err(PlanError::new(
                    "each stats term needs an aggregate function such as count(*), sum(f) or avg(f)",
                    item.expr.span,
                ));
            }
            let (name, span) = match &item.alias {
                Some(alias) => (alias.name.clone(), alias.span),
                None => (self.text(item.expr.span), item.expr.span),
            };
            if item.alias.is_some() && self.ephemeral.contains(&name) {
                return Err(PlanError::new(
                    format!("Ephemeral field is already defined: {name}"),
                    span,
                ));
            }
            local.insert(name.clone(), stage.outputs.len());
            let slot = self.slot(&name);
            stage.outputs.push((slot, compiled));
            outputs.push((name, span));
        }

        // From here on only what this stats produces exists.
        let mut scope = HashSet::new();
        self.columns.clear();
        for (name, (slot, _)) in group_names.iter().zip(&stage.groups) {
            scope.insert(name.clone());
            self.columns.push(Column {
                name: name.clone(),
                slot: *slot,
            });
        }
        for (name, _) in &outputs {
            scope.insert(name.clone());
            let slot = self.slot(name);
            if !self.columns.iter().any(|c| &c.name == name) {
                self.columns.push(Column {
                    name: name.clone(),
                    slot,
                });
            }
        }
        for name in group_names.iter().chain(outputs.iter().map(|(n, _)| n)) {
            if name != "@timestamp" && !name.contains('(') {
                self.ephemeral.insert(name.clone());
            }
        }
        stage.output_slots = self.columns.iter().map(|c| c.slot).collect();
        // Counted once its terms are planned: they read the rows before it.
        self.stats_count += 1;
        self.scope = Some(scope);
        self.columns_chosen = true;
        self.stages.push(Stage::Stats(stage));
        Ok(())
    }

    /// The slot of `name` if an expression here may read it.
    fn visible_slot(&mut self, name: &str) -> Option<Slot> {
        match &self.scope {
            Some(scope) if !scope.contains(name) => None,
            _ => Some(self.resolve_field(name)),
        }
    }

    /// The slot for an event or defined field, registering what the reader must extract.
    fn resolve_field(&mut self, name: &str) -> Slot {
        let known = self.slots.contains_key(name);
        let slot = self.slot(name);
        if !known && self.scope.is_none() && !self.defined_before_stats.contains(name) {
            match name {
                "@timestamp" => {}
                "@message" => self.input.message = Some(slot),
                "@logStream" => self.input.log_stream = Some(slot),
                "@log" => self.input.log = Some(slot),
                "@ingestionTime" => self.input.ingestion_time = Some(slot),
                "@ptr" => self.input.ptr = Some(slot),
                _ => self.input.discovered.push((name.to_string(), slot)),
            }
        }
        slot
    }

    /// Compiles a per-row expression (filter, fields, sort, group terms, aggregate arguments).
    fn row_expr(&mut self, expr: &Expr) -> Result<CExpr, PlanError> {
        // After stats, a term written as in the stats (`sort count(*) desc`) names its column.
        if let Some(scope) = &self.scope {
            let text: String = self.text(expr.span).split_whitespace().collect();
            if !matches!(expr.kind, ExprKind::Field(_)) && scope.contains(&text) {
                return Ok(CExpr::Slot(self.slot(&text)));
            }
        }
        Ok(match &expr.kind {
            ExprKind::Field(name) => self.field(name, expr.span)?,
            ExprKind::Str(s) => CExpr::Const(Some(Value::str(s.as_str()))),
            ExprKind::Num(n) => CExpr::Const(Value::num(*n)),
            ExprKind::Bool(b) => CExpr::Const(Some(Value::Bool(*b))),
            ExprKind::Regex(r) => CExpr::Const(Some(Value::str(r.as_str()))),
            ExprKind::Duration(d) => CExpr::Const(Some(Value::str(d.as_str()))),
            ExprKind::Star => return Err(PlanError::new("'*' is only allowed in count(*)", expr.span)),
            ExprKind::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match self.row_expr(item)? {
                        CExpr::Const(Some(v)) => values.push(v),
                        _ => return Err(PlanError::new("a list may hold only literal values", item.span)),
                    }
                }
                CExpr::Const(Some(Value::List(std::sync::Arc::new(values))))
            }
            ExprKind::Unary(UnaryOp::Neg, inner) => CExpr::Neg(Box::new(self.row_expr(inner)?)),
            ExprKind::Unary(UnaryOp::Not, inner) => CExpr::Not(Box::new(self.row_expr(inner)?)),
            ExprKind::Binary(op, l, r) => {
                CExpr::Binary(*op, Box::new(self.row_expr(l)?), Box::new(self.row_expr(r)?))
            }
            ExprKind::Like {
                expr: inner,
                pattern,
                negated,
            } => {
                let matcher = match &pattern.kind {
                    ExprKind::Str(s) => Matcher::Substring(s.clone()),
                    ExprKind::Regex(r) => Matcher::Regex(compile_regex(r, pattern.span)?),
                    _ => Matcher::Dynamic(Box::new(self.row_expr(pattern)?)),
                };
                CExpr::Like {
                    expr: Box::new(self.row_expr(inner)?),
                    matcher,
                    negated: *negated,
                }
            }
            ExprKind::In {
                expr: inner,
                list,
                negated,
            } => {
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    items.push(self.row_expr(item)?);
                }
                CExpr::In {
                    expr: Box::new(self.row_expr(inner)?),
                    list: items,
                    negated: *negated,
                }
            }
            ExprKind::InQuery { .. } if !self.in_filter => {
                return Err(PlanError::new(
                    "a subquery works only in filter: `filter <field> in (<query>)`",
                    expr.span,
                ))
            }
            ExprKind::InQuery {
                expr: inner,
                query,
                negated,
            } => CExpr::InQuery {
                expr: Box::new(self.row_expr(inner)?),
                query: std::sync::Arc::new(Subquery::new(plan_subquery(query, self.source)?)),
                negated: *negated,
            },
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, expr.span)?,
            ExprKind::Index(base, index) => {
                CExpr::Index(Box::new(self.row_expr(base)?), Box::new(self.row_expr(index)?))
            }
            ExprKind::Member(base, key) => CExpr::Path(Box::new(self.row_expr(base)?), vec![key.clone()]),
        })
    }

    fn field(&mut self, written: &str, span: Span) -> Result<CExpr, PlanError> {
        if let Some(resolved) = self.join_field(written, span)? {
            return Ok(resolved);
        }
        let segments = split_path(written);
        if written.contains('`') {
            // A path with a quoted segment reads into a map the query made (`js.`user.id``).
            for cut in (1..segments.len()).rev() {
                let base = segments[..cut].join(".");
                if self.is_defined(&base) {
                    let slot = self.slot(&base);
                    return Ok(CExpr::Path(Box::new(CExpr::Slot(slot)), segments[cut..].to_vec()));
                }
            }
        }
        let joined = segments.join(".");
        let name = joined.as_str();
        match &self.scope {
            Some(scope) if !scope.contains(name) => {
                if let Some(path) = self.map_path(name) {
                    return Ok(path);
                }
                Err(PlanError::new(
                    format!("Unknown symbols found in or after stats: {name} (after stats, only the fields it produces exist)"),
                    span,
                ))
            }
            _ => {
                if self.scope.is_none()
                    && !self.defined_before_stats.contains(name)
                    && !SYSTEM_FIELDS.contains(&name)
                {
                    if let Some(path) = self.map_path(name) {
                        return Ok(path);
                    }
                }
                Ok(CExpr::Slot(self.resolve_field(name)))
            }
        }
    }

    fn is_defined(&self, name: &str) -> bool {
        match &self.scope {
            Some(scope) => scope.contains(name),
            None => self.defined_before_stats.contains(name),
        }
    }

    /// `a.b.c` where `a` (or `a.b`) is a field the query defined: a lookup into its map value.
    fn map_path(&mut self, name: &str) -> Option<CExpr> {
        let mut cut = name.len();
        while let Some(dot) = name[..cut].rfind('.') {
            let base = &name[..dot];
            if self.is_defined(base) {
                let slot = self.slot(base);
                let keys = name[dot + 1..].split('.').map(str::to_string).collect();
                return Some(CExpr::Path(Box::new(CExpr::Slot(slot)), keys));
            }
            cut = dot;
        }
        None
    }

    fn call(&mut self, name: &str, name_span: Span, args: &[Expr], span: Span) -> Result<CExpr, PlanError> {
        if name.eq_ignore_ascii_case("bin") {
            return self.bin(args, span);
        }
        if let Some((canonical, _)) = aggregate(name) {
            return Err(PlanError::new(
                format!("{canonical}() is an aggregate function: use it in stats"),
                name_span,
            ));
        }
        let Some(function) = scalar(name) else {
            return Err(unknown_function(name, name_span));
        };
        check_arity(
            function.name,
            function.min_args,
            function.max_args,
            args.len(),
            span,
        )?;
        if function.name == "case" && args.len() / 2 > MAX_CASE_BRANCHES {
            return Err(PlanError::new(
                format!("case() takes at most {MAX_CASE_BRANCHES} branches"),
                span,
            ));
        }
        if matches!(function.name, "datefloor" | "dateceil") {
            if let Some(ExprKind::Duration(text)) = args.get(1).map(|a| &a.kind) {
                if parse_period(text).is_none() {
                    return Err(bad_period(text, args[1].span));
                }
            }
        }
        let mut compiled = Vec::with_capacity(args.len());
        for arg in args {
            compiled.push(self.row_expr(arg)?);
        }
        Ok(CExpr::Call {
            function,
            args: compiled,
        })
    }

    fn bin(&mut self, args: &[Expr], span: Span) -> Result<CExpr, PlanError> {
        check_arity("bin", 1, Some(1), args.len(), span)?;
        let arg = &args[0];
        let (ExprKind::Duration(text) | ExprKind::Str(text)) = &arg.kind else {
            return Err(PlanError::new(
                "bin() takes a time period such as 5m or 1h",
                arg.span,
            ));
        };
        let period = parse_period(text).ok_or_else(|| bad_period(text, arg.span))?;
        let Some(time) = self.visible_slot("@timestamp") else {
            return Err(PlanError::new(
                "bin() reads @timestamp, which does not exist after this stats; name a time term @timestamp in the earlier stats (for example `by bin(5m) as @timestamp`) or use datefloor(<time field>, period)",
                span,
            ));
        };
        Ok(CExpr::Floor {
            time: Box::new(CExpr::Slot(time)),
            period,
            shift_ms: 0,
        })
    }

    /// Compiles a stats term: aggregate calls become [`CExpr::Aggregate`] references, their
    /// arguments row expressions; earlier aliases of the same stats may be used by name.
    fn stats_expr(
        &mut self,
        expr: &Expr,
        stage: &mut StatsStage,
        local: &HashMap<String, usize>,
    ) -> Result<CExpr, PlanError> {
        Ok(match &expr.kind {
            ExprKind::Call { name, name_span, args } => {
                if let Some((canonical, kind)) = aggregate(name) {
                    let spec = self.aggregate_spec(canonical, kind, args, expr.span)?;
                    stage.aggregates.push(spec);
                    return Ok(CExpr::Aggregate(stage.aggregates.len() - 1));
                }
                let Some(function) = scalar(name) else {
                    return Err(unknown_function(name, *name_span));
                };
                check_arity(function.name, function.min_args, function.max_args, args.len(), expr.span)?;
                let mut compiled = Vec::with_capacity(args.len());
                for arg in args {
                    compiled.push(self.stats_expr(arg, stage, local)?);
                }
                CExpr::Call { function, args: compiled }
            }
            ExprKind::Field(name) => match local.get(name) {
                Some(&index) => clone_output(&stage.outputs[index].1),
                None => {
                    return Err(PlanError::new(
                        format!("'{name}' must be inside an aggregate function such as sum({name}), or be an alias defined earlier in this stats"),
                        expr.span,
                    ))
                }
            },
            ExprKind::Binary(op, l, r) => CExpr::Binary(
                *op,
                Box::new(self.stats_expr(l, stage, local)?),
                Box::new(self.stats_expr(r, stage, local)?),
            ),
            ExprKind::Unary(UnaryOp::Neg, inner) => CExpr::Neg(Box::new(self.stats_expr(inner, stage, local)?)),
            ExprKind::Unary(UnaryOp::Not, inner) => CExpr::Not(Box::new(self.stats_expr(inner, stage, local)?)),
            ExprKind::Num(n) => CExpr::Const(Value::num(*n)),
            ExprKind::Str(s) => CExpr::Const(Some(Value::str(s.as_str()))),
            _ => {
                return Err(PlanError::new(
                    "a stats term is an aggregate function, arithmetic over aggregates, or an earlier alias",
                    expr.span,
                ))
            }
        })
    }

    fn aggregate_spec(
        &mut self,
        canonical: &str,
        kind: AggKind,
        args: &[Expr],
        span: Span,
    ) -> Result<AggSpec, PlanError> {
        let count_star =
            kind == AggKind::Count && (args.is_empty() || matches!(args[0].kind, ExprKind::Star));
        if count_star {
            check_arity(canonical, 0, Some(1), args.len(), span)?;
            return Ok(AggSpec { kind, arg: None });
        }
        if kind == AggKind::Pct(50.0) {
            check_arity(canonical, 2, Some(2), args.len(), span)?;
            let p = match args[1].kind {
                ExprKind::Num(p) if (0.0..=100.0).contains(&p) => p,
                _ => {
                    return Err(PlanError::new(
                        "pct() takes a percentile from 0 to 100, such as 99 or 99.9",
                        args[1].span,
                    ))
                }
            };
            let arg = self.aggregate_arg(&args[0])?;
            return Ok(AggSpec {
                kind: AggKind::Pct(p),
                arg: Some(arg),
            });
        }
        if let AggKind::Rate(_) | AggKind::Histogram(_) = kind {
            check_arity(canonical, 2, Some(2), args.len(), span)?;
            let kind = match (kind, &args[1].kind) {
                (AggKind::Rate(_), ExprKind::Duration(text) | ExprKind::Str(text)) => {
                    match parse_period(text).and_then(|p| p.fixed_ms()) {
                        Some(ms) => AggKind::Rate(ms),
                        None => return Err(bad_period(text, args[1].span)),
                    }
                }
                (AggKind::Rate(_), _) => {
                    return Err(PlanError::new(
                        "rate() takes the period to count change per, such as 1m or 1s",
                        args[1].span,
                    ))
                }
                #[allow(clippy::float_cmp)] // exactly whole
                (_, ExprKind::Num(n)) if n.fract() == 0.0 && (1.0..=1000.0).contains(n) => {
                    AggKind::Histogram(*n as u32)
                }
                _ => {
                    return Err(PlanError::new(
                        "histogram() takes how many buckets, a whole number from 1 to 1000",
                        args[1].span,
                    ))
                }
            };
            let arg = self.aggregate_arg(&args[0])?;
            return Ok(AggSpec { kind, arg: Some(arg) });
        }
        check_arity(canonical, 1, Some(1), args.len(), span)?;
        let arg = self.aggregate_arg(&args[0])?;
        Ok(AggSpec { kind, arg: Some(arg) })
    }

    fn aggregate_arg(&mut self, arg: &Expr) -> Result<CExpr, PlanError> {
        if let ExprKind::Call { name, name_span, .. } = &arg.kind {
            if aggregate(name).is_some() {
                return Err(PlanError::new("aggregate functions cannot be nested", *name_span));
            }
        }
        self.row_expr(arg)
    }

    fn finish(mut self) -> Result<Plan, PlanError> {
        let aggregated = self.stats_count > 0;
        let has_rows = self.stages.iter().any(|s| matches!(s, Stage::Rows(_)));
        // `limit any` takes rows as they come, unless a row-window command needs an order.
        let ordered = has_rows || !self.limit_any;
        if !aggregated && !self.explicit_sort && self.dedup.is_none() && ordered {
            // Events come newest first unless the query sorts them (row-window commands see
            // them in that order too).
            let at = self
                .stages
                .iter()
                .position(|s| matches!(s, Stage::Limit(_) | Stage::Rows(_)))
                .unwrap_or(self.stages.len());
            let sort = self.default_sort();
            self.stages.insert(at, sort);
        }
        // A row-window command sees events newest first when nothing before it orders them.
        if let Some(at) = self.stages.iter().position(
            |s| matches!(s, Stage::Rows(r) if !matches!(**r, crate::plan::rows::RowStage::RelevantFields(_))),
        ) {
            let ordered = self.stages[..at]
                .iter()
                .any(|s| matches!(s, Stage::Sort(_) | Stage::Stats(_)));
            if !ordered {
                let sort = self.default_sort();
                self.stages.insert(at, sort);
            }
        }
        self.finish_join()?;
        let row_limit = if let Some(n) = self.limit {
            n
        } else if self.unlimited {
            u64::MAX
        } else {
            self.stages.push(Stage::Limit(DEFAULT_LIMIT));
            DEFAULT_LIMIT
        };
        // A sort followed by a limit (with only computed fields in between: they keep every
        // row) only needs to keep that many rows.
        for i in 1..self.stages.len() {
            if let Stage::Limit(n) = self.stages[i] {
                let mut j = i - 1;
                while j > 0 && matches!(self.stages[j], Stage::Compute(_)) {
                    j -= 1;
                }
                if let Stage::Sort(sort) = &mut self.stages[j] {
                    sort.keep = Some(sort.keep.map_or(n, |k| k.min(n)));
                }
            }
        }
        if !self.columns_chosen {
            let ts = self.input.timestamp;
            let message = self.resolve_field("@message");
            self.columns = vec![
                Column {
                    name: "@timestamp".to_string(),
                    slot: ts,
                },
                Column {
                    name: "@message".to_string(),
                    slot: message,
                },
            ];
        }
        // A parse capture nothing reads later is not materialised.
        for i in 0..self.stages.len() {
            let (before, after) = self.stages.split_at_mut(i + 1);
            if let Some(Stage::Parse(parse)) = before.last_mut() {
                let columns = &self.columns;
                parse.captures.retain(|(_, slot)| {
                    columns.iter().any(|c| c.slot == *slot)
                        || after.iter().any(|stage| stage_reads_slot(stage, *slot))
                });
            }
        }
        let ts = self.input.timestamp;
        self.input.timestamp_needed = self.columns.iter().any(|c| c.slot == ts)
            || self.stages.iter().any(|stage| stage_reads_slot(stage, ts));
        Ok(Plan {
            slot_names: self.slot_names,
            input: self.input,
            stages: self.stages,
            columns: self.columns,
            row_limit,
            aggregated,
            source: self.source_clause,
            earlier_window: self.earlier_window,
        })
    }
}

/// The segments of a dotted name; backticked segments keep their dots (`a.`b.c`` is a, b.c).
fn split_path(written: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in written.chars() {
        match ch {
            '`' => quoted = !quoted,
            '.' if !quoted => segments.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(current);
    segments
}

fn stage_reads_slot(stage: &Stage, slot: Slot) -> bool {
    match stage {
        Stage::Expand(expand) => {
            expand.source.reads_slot(slot) || expand.fallback.as_ref().is_some_and(|e| e.reads_slot(slot))
        }
        Stage::Rows(rows) => rows.reads_slot(slot),
        Stage::Join(join) => join.left_key.reads_slot(slot),
        Stage::Lookup(lookup) => {
            lookup.keys.iter().any(|(_, e)| e.reads_slot(slot))
                || lookup.new_only && lookup.outputs.iter().any(|(_, s)| *s == slot)
        }
        Stage::Filter(e) => e.reads_slot(slot),
        Stage::Compute(items) => items.iter().any(|(_, e)| e.reads_slot(slot)),
        Stage::Parse(parse) => parse.source.reads_slot(slot),
        Stage::Stats(stats) => {
            stats.groups.iter().any(|(_, e)| e.reads_slot(slot))
                || stats.aggregates.iter().any(|a| {
                    a.arg.as_ref().is_some_and(|e| e.reads_slot(slot))
                        || matches!(a.kind, AggKind::Earliest | AggKind::Latest | AggKind::Rate(_))
                            && stats.timestamp == Some(slot)
                })
        }
        Stage::Sort(sort) => sort.keys.iter().any(|(e, _)| e.reads_slot(slot)),
        Stage::Dedup(keys) => keys.iter().any(|e| e.reads_slot(slot)),
        Stage::Limit(_) | Stage::Patterns(_) => false,
    }
}

fn contains_aggregate(expr: &CExpr) -> bool {
    match expr {
        CExpr::Aggregate(_) => true,
        CExpr::Binary(_, l, r) => contains_aggregate(l) || contains_aggregate(r),
        CExpr::Neg(e) | CExpr::Not(e) => contains_aggregate(e),
        CExpr::Call { args, .. } => args.iter().any(contains_aggregate),
        _ => false,
    }
}

/// A copy of a stats output expression, to reuse an alias in a later term of the same stats.
fn clone_output(expr: &CExpr) -> CExpr {
    match expr {
        CExpr::Aggregate(i) => CExpr::Aggregate(*i),
        CExpr::Const(v) => CExpr::Const(v.clone()),
        CExpr::Binary(op, l, r) => CExpr::Binary(*op, Box::new(clone_output(l)), Box::new(clone_output(r))),
        CExpr::Neg(e) => CExpr::Neg(Box::new(clone_output(e))),
        CExpr::Not(e) => CExpr::Not(Box::new(clone_output(e))),
        CExpr::Call { function, args } => CExpr::Call {
            function,
            args: args.iter().map(clone_output).collect(),
        },
        // Stats outputs are built only from the forms above.
        _ => CExpr::Const(None),
    }
}

fn check_arity(
    name: &str,
    min: usize,
    max: Option<usize>,
    found: usize,
    span: Span,
) -> Result<(), PlanError> {
    let ok = found >= min && max.is_none_or(|m| found <= m);
    if ok {
        return Ok(());
    }
    let expected = match max {
        Some(max) if max == min => format!("{min}"),
        Some(max) => format!("{min} to {max}"),
        None => format!("at least {min}"),
    };
    let plural = if expected == "1" { "" } else { "s" };
    Err(PlanError::new(
        format!("{name}() takes {expected} argument{plural}, found {found}"),
        span,
    ))
}

fn unknown_function(name: &str, span: Span) -> PlanError {
    let candidates = scalar_names()
        .chain(crate::plan::aggregate::AGGREGATES.iter().map(|(n, _)| *n))
        .chain(std::iter::once("bin"));
    let mut message = format!("unknown function '{name}'");
    if let Some(s) = did_you_mean(name, candidates) {
        let _ = write!(message, "; did you mean '{s}'?");
    }
    PlanError::new(message, span)
}

fn bad_period(text: &str, span: Span) -> PlanError {
    PlanError::new(
        format!("invalid time period '{text}': use a number and a unit such as 500ms, 30s, 5m, 1h, 1d, 1w, 1mo, 1q, 1y"),
        span,
    )
}

fn compile_regex(pattern: &str, span: Span) -> Result<regex::Regex, PlanError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(10 * (1 << 20))
        .build()
        .map_err(|e| PlanError::new(format!("invalid regex: {}", first_line(&e.to_string())), span))
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}
