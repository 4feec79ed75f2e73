//! Planning what runs a query inside the query: `join`'s right side, `appendcols`.
//! (`filter f in (…)` is an expression: `row_expr` plans it.)

use super::{plan_subquery, Planner};
use crate::plan::rows::{Appendcols, RowStage};
use crate::plan::{CExpr, JoinStage, PlanError, Slot, Stage, Subquery};
use crate::syntax::ast::{Command, CommandKind, Expr, ExprKind, Join, Projection, Query};
use crate::syntax::span::Span;

/// A join whose right side is planned once the whole query has said which of its fields it
/// reads.
#[derive(Debug)]
pub(super) struct PendingJoin {
    left: String,
    right: String,
    right_key: String,
    right_query: Query,
    span: Span,
    /// Where the join stage is.
    stage: usize,
    /// The stats commands before it: after a later stats only what it makes exists.
    stats_before: usize,
    /// The right side's fields the query reads: (field, slot of `<right>.<field>`).
    fields: Vec<(String, Slot)>,
}

impl Planner<'_> {
    pub(super) fn join(&mut self, join: &Join) -> Result<(), PlanError> {
        if join.left.name == join.right.name {
            return Err(PlanError::new(
                "the two sides of a join need different names",
                join.right.span,
            ));
        }
        let left_key = self.field(&join.left_key.name, join.left_key.span)?;
        let stage = self.stages.len();
        self.stages.push(Stage::Join(Box::new(JoinStage {
            left_join: join.left_join,
            left_key,
            right: Subquery::new(plan_subquery(&join.right_query, self.source)?),
            right_key_column: 0,
            right_slots: Vec::new(),
            index: std::sync::OnceLock::new(),
        })));
        self.join = Some(PendingJoin {
            left: join.left.name.clone(),
            right: join.right.name.clone(),
            right_key: join.right_key.name.clone(),
            right_query: (*join.right_query).clone(),
            span: join.right_span,
            stage,
            stats_before: self.stats_count,
            fields: Vec::new(),
        });
        Ok(())
    }

    /// `<left>.<field>` is the rows' own field; `<right>.<field>` the joined event's.
    pub(super) fn join_field(&mut self, written: &str, span: Span) -> Result<Option<CExpr>, PlanError> {
        let Some(join) = self.join.as_ref().filter(|j| j.stats_before == self.stats_count) else {
            return Ok(None);
        };
        if let Some(field) = written.strip_prefix(&join.left).and_then(|r| r.strip_prefix('.')) {
            let field = field.to_string();
            return self.field_without_join(&field, span).map(Some);
        }
        let Some(field) = written
            .strip_prefix(&join.right)
            .and_then(|r| r.strip_prefix('.'))
        else {
            return Ok(None);
        };
        let field = field.to_string();
        let slot = self.make_visible(written);
        if let Some(join) = &mut self.join {
            if !join.fields.iter().any(|(f, _)| *f == field) {
                join.fields.push((field, slot));
            }
        }
        Ok(Some(CExpr::Slot(slot)))
    }

    fn field_without_join(&mut self, name: &str, span: Span) -> Result<CExpr, PlanError> {
        let join = self.join.take();
        let resolved = self.field(name, span);
        self.join = join;
        resolved
    }

    /// Plans the right side with the fields the query read: key first, then each field.
    pub(super) fn finish_join(&mut self) -> Result<(), PlanError> {
        let Some(join) = self.join.take() else {
            return Ok(());
        };
        let mut query = join.right_query.clone();
        let field = |name: &str| Projection {
            expr: Expr {
                kind: ExprKind::Field(name.to_string()),
                span: join.span,
            },
            alias: None,
        };
        let mut projections = vec![field(&join.right_key)];
        projections.extend(join.fields.iter().map(|(f, _)| field(f)));
        query.commands.push(Command {
            kind: CommandKind::Fields(projections),
            span: join.span,
            word_span: join.span,
        });
        let plan = plan_subquery(&query, self.source)?;
        let width = plan.columns.len();
        let Some(Stage::Join(stage)) = self.stages.get_mut(join.stage) else {
            return Ok(());
        };
        // `fields` keeps earlier columns first: find each by name.
        let column = |name: &str| plan.columns.iter().position(|c| c.name == name);
        let key = column(&join.right_key).unwrap_or(0);
        let mut right_slots = Vec::with_capacity(join.fields.len());
        for (name, slot) in &join.fields {
            if let Some(c) = column(name) {
                right_slots.push((c, *slot));
            }
        }
        debug_assert!(width >= right_slots.len());
        stage.right_slots = right_slots;
        stage.right = Subquery::new(plan);
        stage.right_key_column = key;
        Ok(())
    }

    pub(super) fn appendcols(&mut self, overwrite: bool, max: u64, query: &Query) -> Result<(), PlanError> {
        let plan = plan_subquery(query, self.source)?;
        let mut slots = Vec::with_capacity(plan.columns.len());
        for (i, column) in plan.columns.iter().enumerate() {
            let slot = self.make_visible(&column.name);
            self.add_column(&column.name, slot);
            slots.push((i, slot));
        }
        self.stages
            .push(Stage::Rows(Box::new(RowStage::Appendcols(Box::new(
                Appendcols {
                    query: Subquery::new(plan),
                    overwrite,
                    max: usize::try_from(max).unwrap_or(usize::MAX),
                    slots,
                },
            )))));
        Ok(())
    }
}
