//! SQL text to statements: the Postgres dialect of `sqlparser`, with a bound
//! on how deeply a statement may nest.
//!
//! Every later step (binding, rewrites, optimizing, lowering, expression
//! evaluation on the workers, and simply dropping the tree) walks a
//! statement recursively, so a statement nested too deeply would overflow a
//! thread's stack and abort the process. Postgres answers such input with
//! `54001 stack depth limit exceeded`; so do we, before the tree is built:
//! [`nesting_bound`] reads the tokens and computes an upper bound on the
//! depth of the tree the parser would build, and a statement whose bound
//! exceeds [`MAX_NESTING`] is refused. Within the bound, the server runs
//! statements on threads whose stacks are sized for it.

use datafusion_common::Result;
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::PlanError;

/// The deepest nesting a statement may have: parentheses, brackets and
/// `CASE` count one level each, and a chain of operators (`1 + 1 + ...`,
/// `a = 1 OR a = 2 OR ...`) one level per operator, as the parser nests
/// such chains. A thousand-term expression is well within it.
pub const MAX_NESTING: usize = 3_000;

/// The parser's own recursion limit. Deeper input is refused by
/// [`nesting_bound`] first; this is a second line, reported the same way.
const PARSER_RECURSION_LIMIT: usize = 2 * MAX_NESTING + 100;

/// Parses SQL text into statements (Postgres dialect).
///
/// # Errors
///
/// A syntax error (SQLSTATE 42601) with the parser's message; 54001 for a
/// statement nested deeper than [`MAX_NESTING`]; the COPY option errors of
/// [`crate::statement::copy_option_char`].
pub fn parse_sql(sql: &str) -> Result<Vec<Statement>> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| syntax_error(&ParserError::TokenizerError(e.to_string())))?;
    for statement in tokens.split(|t| t.token == Token::SemiColon) {
        let depth = nesting_bound(statement);
        if depth > MAX_NESTING {
            return Err(too_deep(depth).into());
        }
        check_copy_options(statement)?;
    }
    let tokens = rewrite_streaming_syntax(tokens);
    let tokens = rewrite_subscribe(tokens)?;
    let mut statements = Vec::new();
    let mut rest: Vec<TokenWithSpan> = Vec::new();
    let parse = |tokens: Vec<TokenWithSpan>, out: &mut Vec<Statement>| -> Result<()> {
        let parsed = Parser::new(&dialect)
            .with_recursion_limit(PARSER_RECURSION_LIMIT)
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| match e {
                ParserError::RecursionLimitExceeded => too_deep(PARSER_RECURSION_LIMIT),
                other => syntax_error(&other),
            })?;
        out.extend(parsed);
        Ok(())
    };
    for statement in tokens.split(|t| t.token == Token::SemiColon) {
        if let Some(flush) = streaming_statement(statement) {
            // Statements before it, in order.
            parse(std::mem::take(&mut rest), &mut statements)?;
            statements.push(flush);
        } else if let Some(fetch) = normalize_fetch(statement) {
            rest.extend(fetch);
            rest.push(TokenWithSpan::wrap(Token::SemiColon));
        } else {
            rest.extend(statement.iter().cloned());
            rest.push(TokenWithSpan::wrap(Token::SemiColon));
        }
    }
    parse(rest, &mut statements)?;
    Ok(statements)
}

/// Tidewater's own statements that the Postgres dialect does not know:
/// `FLUSH` (wait until every materialized view reflects what was committed
/// before it began), represented as the parser's `Statement::Flush` of
/// tables with no table list ([`is_flush`]), and `CHECKPOINT` (take a
/// checkpoint of every materialized view now), represented as the same
/// with the channel [`CHECKPOINT_CHANNEL`], which no parsed statement has
/// ([`is_checkpoint`]), and `ALTER MATERIALIZED VIEW v SET PARALLELISM [=|TO]
/// n` (RisingWave's form), the same with the view as its one table and the
/// channel [`PARALLELISM_CHANNEL`] followed by `n` ([`alter_parallelism`]).
fn streaming_statement(tokens: &[TokenWithSpan]) -> Option<Statement> {
    let significant: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let keyword = |t: &Token, value: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(value));
    if let [alter, materialized, view, rest @ ..] = significant.as_slice()
        && keyword(alter, "alter")
        && keyword(materialized, "materialized")
        && keyword(view, "view")
    {
        // name [. name ...] SET PARALLELISM [= | TO] n
        let set = rest.iter().position(|t| keyword(t, "set"))?;
        let (name, tail) = rest.split_at(set);
        let mut parts = Vec::new();
        for (i, t) in name.iter().enumerate() {
            match t {
                Token::Word(w) if i % 2 == 0 => {
                    parts.push(match w.quote_style {
                        Some(q) => sqlparser::ast::Ident::with_quote(q, w.value.clone()),
                        None => sqlparser::ast::Ident::new(w.value.clone()),
                    });
                }
                Token::Period if i % 2 == 1 => {}
                _ => return None,
            }
        }
        if parts.is_empty() || name.len() % 2 == 0 {
            return None;
        }
        // The value as written (the planner checks that it is a positive
        // integer, with a clearer error than a syntax error).
        let value: String = match &tail[1..] {
            [p, Token::Eq, v @ ..] | [p, v @ ..] if keyword(p, "parallelism") => {
                let v = match v {
                    [to, v @ ..] if keyword(to, "to") => v,
                    v => v,
                };
                if v.is_empty() {
                    return None;
                }
                v.iter().map(ToString::to_string).collect()
            }
            _ => return None,
        };
        let mut statement = flush_statement(Some(format!("{PARALLELISM_CHANNEL}{value}")));
        if let Statement::Flush { tables, .. } = &mut statement {
            tables.push(sqlparser::ast::ObjectName::from(parts));
        }
        return Some(statement);
    }
    match significant.as_slice() {
        [Token::Word(w)] if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("flush") => {
            Some(flush_statement(None))
        }
        [Token::Word(w)]
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("checkpoint") =>
        {
            Some(flush_statement(Some(CHECKPOINT_CHANNEL.to_string())))
        }
        _ => None,
    }
}

/// The channel that marks the `Statement::Flush` standing for `CHECKPOINT`.
const CHECKPOINT_CHANNEL: &str = "tidewater checkpoint";

fn flush_statement(channel: Option<String>) -> Statement {
    Statement::Flush {
        object_type: sqlparser::ast::FlushType::Tables,
        location: None,
        channel,
        read_lock: false,
        export: false,
        tables: Vec::new(),
    }
}

/// The channel prefix that marks the `Statement::Flush` standing for
/// `ALTER MATERIALIZED VIEW … SET PARALLELISM`.
const PARALLELISM_CHANNEL: &str = "tidewater parallelism ";

/// The view and the parallelism of Tidewater's `ALTER MATERIALIZED VIEW v
/// SET PARALLELISM n`; `None` for any other statement. The number is as
/// written (the planner checks it).
pub fn alter_parallelism(statement: &Statement) -> Option<(&sqlparser::ast::ObjectName, &str)> {
    match statement {
        Statement::Flush {
            object_type: sqlparser::ast::FlushType::Tables,
            location: None,
            channel: Some(c),
            tables,
            ..
        } => match (c.strip_prefix(PARALLELISM_CHANNEL), tables.as_slice()) {
            (Some(n), [view]) => Some((view, n)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `statement` is Tidewater's `CHECKPOINT`.
pub fn is_checkpoint(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Flush {
            object_type: sqlparser::ast::FlushType::Tables,
            location: None,
            channel: Some(c),
            tables,
            ..
        } if tables.is_empty() && c == CHECKPOINT_CHANNEL
    )
}

/// Whether `statement` is Tidewater's `FLUSH`.
pub fn is_flush(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Flush {
            object_type: sqlparser::ast::FlushType::Tables,
            location: None,
            channel: None,
            tables,
            ..
        } if tables.is_empty()
    )
}

/// `FETCH` in Postgres's grammar, where the direction and `FROM`/`IN` are
/// optional (`FETCH c`, `FETCH ALL c`, `FETCH FORWARD c`), rewritten to
/// the form the parser requires (`FETCH NEXT FROM c`, `FETCH ALL FROM c`).
/// `None` for any other statement, or one already in that form.
fn normalize_fetch(tokens: &[TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    let is_word = |t: &Token, value: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(value));
    let significant: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let (first, rest) = significant.split_first()?;
    if !is_word(first, "fetch") {
        return None;
    }
    let (name, middle) = rest.split_last()?;
    if !matches!(name, Token::Word(_)) {
        return None;
    }
    let middle = match middle.split_last() {
        Some((last, before)) if is_word(last, "from") || is_word(last, "in") => before,
        _ => middle,
    };
    let direction: Vec<Token> = match middle {
        [] => vec![Token::make_keyword("NEXT")],
        [t] if is_word(t, "forward") => vec![Token::make_keyword("NEXT")],
        [t] if is_word(t, "backward") => vec![
            Token::make_keyword("BACKWARD"),
            Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
            Token::Number("1".into(), false),
        ],
        other => {
            let mut out = Vec::new();
            for t in other {
                out.push((*t).clone());
                out.push(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
            }
            out
        }
    };
    let space = Token::Whitespace(sqlparser::tokenizer::Whitespace::Space);
    let mut out = vec![Token::make_keyword("FETCH"), space.clone()];
    out.extend(direction);
    out.push(space.clone());
    out.push(Token::make_keyword("FROM"));
    out.push(space);
    out.push((*name).clone());
    Some(out.into_iter().map(TokenWithSpan::wrap).collect())
}

/// The alias marking the derived table a `SUBSCRIBE` is parsed into (see
/// [`subscribed_query`]).
pub const SUBSCRIBE_ALIAS: &str = "__tidewater_subscribe";

/// `SUBSCRIBE [TO] name` and `SUBSCRIBE [TO] (query)`, where a statement
/// begins, after `EXPLAIN`, after `DECLARE c CURSOR FOR` and inside
/// `COPY (...)`, become
/// `SELECT * FROM (query) AS __tidewater_subscribe` (for a name, the query
/// is `SELECT * FROM name`): an ordinary query the parser knows, marked so
/// that the planner runs it as a changefeed ([`subscribed_query`]).
fn rewrite_subscribe(tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>> {
    let is_word = |t: &Token, value: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(value));
    if !tokens.iter().any(|t| is_word(&t.token, "subscribe")) {
        return Ok(tokens);
    }
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|i| !matches!(tokens[*i].token, Token::Whitespace(_)))
        .collect();
    // (first token index, one past the last) of each SUBSCRIBE clause and
    // its replacement.
    let mut replace: Vec<(usize, usize, Vec<Token>)> = Vec::new();
    for (k, &i) in significant.iter().enumerate() {
        if !is_word(&tokens[i].token, "subscribe") {
            continue;
        }
        let before = |n: usize| {
            k.checked_sub(n)
                .and_then(|j| significant.get(j))
                .map(|j| &tokens[*j].token)
        };
        let starts = match before(1) {
            None | Some(Token::SemiColon) => true,
            Some(t) if is_word(t, "for") || is_word(t, "explain") => true,
            Some(Token::LParen) => before(2).is_some_and(|t| is_word(t, "copy")),
            _ => false,
        };
        if !starts {
            continue;
        }
        let mut m = k + 1;
        if significant
            .get(m)
            .is_some_and(|j| is_word(&tokens[*j].token, "to"))
        {
            m += 1;
        }
        let Some(&first) = significant.get(m) else {
            return Err(PlanError::syntax(
                "syntax error: SUBSCRIBE needs a view name or a (query)",
            )
            .into());
        };
        let mut inner: Vec<Token> = Vec::new();
        let end;
        if tokens[first].token == Token::LParen {
            let mut depth = 0usize;
            let mut close = None;
            for (j, t) in tokens.iter().enumerate().skip(first) {
                match t.token {
                    Token::LParen => depth += 1,
                    Token::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(close) = close else {
                return Err(
                    PlanError::syntax("syntax error: unterminated SUBSCRIBE (query)").into(),
                );
            };
            inner.extend(tokens[first + 1..close].iter().map(|t| t.token.clone()));
            end = close + 1;
        } else {
            // A possibly qualified name: word (. word)*.
            let word_at = |j: usize| {
                significant
                    .get(j)
                    .is_some_and(|x| matches!(tokens[*x].token, Token::Word(_)))
            };
            if !word_at(m) {
                return Err(PlanError::syntax(
                    "syntax error: SUBSCRIBE needs a view name or a (query)",
                )
                .into());
            }
            let mut j = m;
            while significant
                .get(j + 1)
                .is_some_and(|x| tokens[*x].token == Token::Period)
                && word_at(j + 2)
            {
                j += 2;
            }
            let last = significant[j];
            inner.extend([Token::make_keyword("SELECT")]);
            inner.push(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
            inner.push(Token::Mul);
            inner.push(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
            inner.extend([Token::make_keyword("FROM")]);
            inner.push(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
            inner.extend(tokens[first..=last].iter().map(|t| t.token.clone()));
            end = last + 1;
        }
        let space = Token::Whitespace(sqlparser::tokenizer::Whitespace::Space);
        let mut out: Vec<Token> = Vec::new();
        out.extend([Token::make_keyword("SELECT")]);
        out.push(space.clone());
        out.push(Token::Mul);
        out.push(space.clone());
        out.extend([Token::make_keyword("FROM")]);
        out.push(space.clone());
        out.push(Token::LParen);
        out.extend(inner);
        out.push(Token::RParen);
        out.push(space.clone());
        out.extend([Token::make_keyword("AS")]);
        out.push(space.clone());
        out.push(Token::make_word(SUBSCRIBE_ALIAS, None));
        out.push(space);
        replace.push((i, end, out));
    }
    if replace.is_empty() {
        return Ok(tokens);
    }
    let mut out = Vec::with_capacity(tokens.len() + 16);
    let mut at = 0;
    for (start, end, with) in replace {
        if start < at {
            continue;
        }
        out.extend(tokens[at..start].iter().cloned());
        out.extend(with.into_iter().map(TokenWithSpan::wrap));
        at = end;
    }
    out.extend(tokens[at..].iter().cloned());
    Ok(out)
}

/// The query a `SUBSCRIBE` subscribes to, when `query` is one (see
/// [`rewrite_subscribe`]).
pub fn subscribed_query(query: &sqlparser::ast::Query) -> Option<&sqlparser::ast::Query> {
    use sqlparser::ast::{SetExpr, TableFactor};
    if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    match &from.relation {
        TableFactor::Derived {
            subquery,
            alias: Some(alias),
            ..
        } if from.joins.is_empty()
            && alias.name.value == SUBSCRIBE_ALIAS
            && select.selection.is_none() =>
        {
            Some(subquery)
        }
        _ => None,
    }
}

fn syntax_error(e: &ParserError) -> PlanError {
    let message = e.to_string();
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(&message);
    PlanError::syntax(format!("syntax error: {message}"))
}

fn too_deep(depth: usize) -> PlanError {
    PlanError::new("54001", "stack depth limit exceeded").with_hint(format!(
        "The statement nests about {depth} levels deep (each operator of a chain such as \
         a = 1 OR a = 2 OR ... counts one level); at most {MAX_NESTING} are allowed. \
         Write long OR chains as IN (...) or = ANY(...)."
    ))
}

/// An upper bound on the depth of the syntax tree of one statement's
/// tokens. Parentheses, brackets and `CASE ... END` open a level; within a
/// level, each operator may nest the tree one deeper (left-associative
/// chains become left-deep trees); a comma, a clause keyword or a `WHEN` /
/// `THEN` / `ELSE` starts a new element, whose chain starts again. Set
/// operations and joins nest the query's plan one deeper each, for the
/// whole level. The bound is the largest sum, over the open levels, of
/// their chains and plan operations, plus the number of open levels.
fn nesting_bound(tokens: &[TokenWithSpan]) -> usize {
    /// One open level: its operator chain and its plan operations.
    #[derive(Default, Clone, Copy)]
    struct Level {
        chain: usize,
        plan: usize,
    }
    let mut enclosing: Vec<Level> = Vec::new();
    let mut enclosing_sum = 0usize;
    let mut level = Level::default();
    let mut bound = 0usize;
    fn open(enclosing: &mut Vec<Level>, enclosing_sum: &mut usize, level: &mut Level) {
        enclosing.push(*level);
        *enclosing_sum += level.chain + level.plan;
        *level = Level::default();
    }
    fn close(enclosing: &mut Vec<Level>, enclosing_sum: &mut usize, level: &mut Level) {
        *level = match enclosing.pop() {
            Some(outer) => {
                *enclosing_sum -= outer.chain + outer.plan;
                outer
            }
            None => Level::default(),
        };
    }
    for t in tokens {
        match &t.token {
            Token::LParen | Token::LBracket => open(&mut enclosing, &mut enclosing_sum, &mut level),
            Token::RParen | Token::RBracket => {
                close(&mut enclosing, &mut enclosing_sum, &mut level)
            }
            Token::Comma => level.chain = 0,
            Token::Word(w) => match w.keyword {
                Keyword::CASE => open(&mut enclosing, &mut enclosing_sum, &mut level),
                Keyword::END => close(&mut enclosing, &mut enclosing_sum, &mut level),
                Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE
                | Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::OFFSET
                | Keyword::VALUES
                | Keyword::SET
                | Keyword::ON
                | Keyword::RETURNING => level.chain = 0,
                Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT | Keyword::JOIN => {
                    level.chain = 0;
                    level.plan += 1;
                }
                Keyword::AND
                | Keyword::OR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::SIMILAR
                | Keyword::BETWEEN
                | Keyword::IN
                | Keyword::COLLATE
                | Keyword::AT
                | Keyword::OPERATOR => level.chain += 1,
                _ => {}
            },
            Token::Whitespace(_)
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::Placeholder(_)
            | Token::Period
            | Token::Colon
            | Token::SemiColon
            | Token::EOF => {}
            // Every other token is an operator of some kind.
            _ => level.chain += 1,
        }
        bound = bound.max(enclosing_sum + level.chain + level.plan + enclosing.len());
    }
    bound
}

/// The name of the function and constraint that stand for a table's
/// `WATERMARK FOR` clause after [`rewrite_streaming_syntax`]: a check
/// constraint `CONSTRAINT __tidewater_watermark CHECK
/// (__tidewater_watermark(column [, expression]))`, which the parser
/// accepts and `CREATE TABLE` planning takes out again.
pub const WATERMARK_MARKER: &str = "__tidewater_watermark";

/// Window table functions, whose `TABLE t` argument the parser does not read.
const WINDOW_FUNCTIONS: &[&str] = &["tumble", "hop", "cumulate", "session"];

/// Rewrites the streaming syntax of Flink SQL that the Postgres dialect
/// does not parse into forms it does:
///
/// * `TUMBLE(TABLE t, ...)` (and `HOP`, `CUMULATE`, `SESSION`, also with
///   `DATA => TABLE t`) loses the `TABLE` keyword of its table argument;
/// * `WATERMARK FOR col [AS expr]` among the columns of `CREATE TABLE`
///   becomes a check constraint named [`WATERMARK_MARKER`].
fn rewrite_streaming_syntax(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let is_word = |t: &TokenWithSpan, value: &str| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(value));
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|i| !matches!(tokens[*i].token, Token::Whitespace(_)))
        .collect();
    let mut drop = vec![false; tokens.len()];
    // Insertions: before token `i`, these tokens.
    let mut insert: Vec<(usize, Vec<Token>)> = Vec::new();
    let mut creating_table = false;
    let mut depth = 0usize;
    for (k, &i) in significant.iter().enumerate() {
        let next = |n: usize| significant.get(k + n).map(|j| &tokens[*j]);
        match &tokens[i].token {
            Token::SemiColon => creating_table = false,
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if w.keyword == Keyword::CREATE && depth == 0 => {
                creating_table = next(1).is_some_and(|t| is_word(t, "table"))
                    || (next(1).is_some_and(|t| is_word(t, "temporary") || is_word(t, "temp"))
                        && next(2).is_some_and(|t| is_word(t, "table")));
            }
            _ => {}
        }
        let t = &tokens[i];
        if WINDOW_FUNCTIONS.iter().any(|f| is_word(t, f))
            && next(1).is_some_and(|t| t.token == Token::LParen)
        {
            // The call's arguments at its own depth.
            let mut level = 0usize;
            for (m, &j) in significant[k + 1..].iter().enumerate() {
                match &tokens[j].token {
                    Token::LParen => level += 1,
                    Token::RParen => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    Token::Word(w)
                        if level == 1
                            && w.keyword == Keyword::TABLE
                            && matches!(
                                significant.get(k + 1 + m + 1).map(|x| &tokens[*x].token),
                                Some(Token::Word(_))
                            ) =>
                    {
                        drop[j] = true;
                    }
                    _ => {}
                }
            }
        }
        if creating_table
            && depth == 1
            && is_word(t, "watermark")
            && next(1).is_some_and(|t| is_word(t, "for"))
            && matches!(next(2).map(|t| &t.token), Some(Token::Word(_)))
        {
            let column = significant[k + 2];
            drop[i] = true;
            drop[significant[k + 1]] = true;
            let marker = || Token::make_word(WATERMARK_MARKER, None);
            insert.push((
                column,
                vec![
                    Token::make_keyword("CONSTRAINT"),
                    marker(),
                    Token::make_keyword("CHECK"),
                    Token::LParen,
                    marker(),
                    Token::LParen,
                ],
            ));
            // `AS expr` up to the clause's end (a comma or the closing
            // parenthesis of the column list).
            let mut level = 0usize;
            let mut end = None;
            for &j in &significant[k + 3..] {
                match &tokens[j].token {
                    Token::LParen => level += 1,
                    Token::RParen if level == 0 => {
                        end = Some(j);
                        break;
                    }
                    Token::RParen => level -= 1,
                    Token::Comma if level == 0 => {
                        end = Some(j);
                        break;
                    }
                    Token::Word(w) if level == 0 && w.keyword == Keyword::AS => {
                        drop[j] = true;
                        insert.push((j, vec![Token::Comma]));
                    }
                    _ => {}
                }
            }
            if let Some(end) = end {
                insert.push((end, vec![Token::RParen, Token::RParen]));
            }
        }
    }
    if insert.is_empty() && !drop.contains(&true) {
        return tokens;
    }
    insert.sort_by_key(|(i, _)| *i);
    let mut insert = insert.into_iter().peekable();
    let mut out = Vec::with_capacity(tokens.len() + 8);
    for (i, t) in tokens.into_iter().enumerate() {
        while let Some((_, extra)) = insert.next_if(|(at, _)| *at == i) {
            out.extend(extra.into_iter().map(|token| TokenWithSpan {
                token,
                span: t.span,
            }));
        }
        if !drop[i] {
            out.push(t);
        }
    }
    out
}

/// `COPY` options that must be one character (`DELIMITER`, `QUOTE`,
/// `ESCAPE`): the parser refuses a longer string with a message of its own,
/// so such options are checked here first and answered as Postgres does.
fn check_copy_options(tokens: &[TokenWithSpan]) -> Result<()> {
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let is_copy = matches!(
        words.next().map(|t| &t.token),
        Some(Token::Word(w)) if w.keyword == Keyword::COPY
    );
    if !is_copy {
        return Ok(());
    }
    let mut option: Option<&'static str> = None;
    for t in words {
        match &t.token {
            Token::Word(w) => {
                option = match w.keyword {
                    Keyword::DELIMITER => Some("delimiter"),
                    Keyword::QUOTE => Some("quote"),
                    Keyword::ESCAPE => Some("escape"),
                    // `DELIMITER AS ','` (the legacy syntax).
                    Keyword::AS => option,
                    _ => None,
                };
            }
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) => {
                if let Some(what) = option.take() {
                    crate::statement::copy_option_char(what, s)?;
                }
            }
            _ => option = None,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alter_parallelism_takes_the_value_as_written() {
        for (sql, value) in [
            ("ALTER MATERIALIZED VIEW s.v SET PARALLELISM 2", "2"),
            ("alter materialized view v set parallelism = 3", "3"),
            ("ALTER MATERIALIZED VIEW v SET PARALLELISM TO 1", "1"),
            ("ALTER MATERIALIZED VIEW v SET PARALLELISM -1", "-1"),
            ("ALTER MATERIALIZED VIEW v SET PARALLELISM foo", "foo"),
        ] {
            let statements = parse_sql(sql).unwrap();
            let (_, n) = alter_parallelism(&statements[0]).unwrap();
            assert_eq!(n, value, "{sql}");
        }
        // Not this statement: the parser's own answer.
        assert!(parse_sql("ALTER MATERIALIZED VIEW v SET PARALLELISM").is_err());
        assert!(parse_sql("ALTER MATERIALIZED VIEW v RENAME TO w").is_err());
    }

    fn bound(sql: &str) -> usize {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        nesting_bound(&tokens)
    }

    fn code(sql: &str) -> String {
        match parse_sql(sql) {
            Ok(_) => "ok".into(),
            Err(e) => crate::find_plan_error(&e)
                .map(|p| p.code.to_string())
                .unwrap_or_else(|| e.to_string()),
        }
    }

    #[test]
    fn the_bound_is_at_least_the_depth_the_parser_builds() {
        assert!(bound("SELECT 1") <= 2);
        let chain = format!("SELECT {}", vec!["1"; 1000].join(" + "));
        assert!(bound(&chain) >= 999);
        let ors = format!(
            "SELECT * FROM t WHERE {}",
            (0..100)
                .map(|i| format!("a = {i}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        );
        assert!(bound(&ors) >= 100);
        let parens = format!("SELECT {}1{}", "(".repeat(300), ")".repeat(300));
        assert!(bound(&parens) >= 300);
        // Wide is not deep: many rows, many CASE branches, long IN lists.
        let rows = format!(
            "INSERT INTO t VALUES {}",
            vec!["(1, -2, 'x' || 'y')"; 10_000].join(", ")
        );
        assert!(bound(&rows) < 10, "{}", bound(&rows));
        let case = format!(
            "SELECT CASE {} END",
            (0..10_000)
                .map(|i| format!("WHEN a = {i} THEN {i} + 1"))
                .collect::<String>()
        );
        assert!(bound(&case) < 10, "{}", bound(&case));
        let list = format!("SELECT a IN ({})", vec!["-1"; 10_000].join(", "));
        assert!(bound(&list) < 10);
        // Set operations nest the plan, whatever their select lists.
        let unions = vec!["SELECT 1"; 200].join(" UNION ALL ");
        assert!(bound(&unions) >= 199);
    }

    #[test]
    fn deep_statements_are_refused_before_they_are_built() {
        let chain = |n: usize| format!("SELECT {}", vec!["1"; n].join("+"));
        assert_eq!(code(&chain(1_000)), "ok");
        assert_eq!(code(&chain(100_000)), "54001");
        let parens = |n: usize| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(code(&parens(1_000)), "ok");
        assert_eq!(code(&parens(10_000)), "54001");
        assert_eq!(code(&format!("SELECT {}1", "- ".repeat(100_000))), "54001");
        // Each statement of a string is bounded on its own.
        let two = format!("{}; {}", chain(2_500), chain(2_500));
        assert_eq!(code(&two), "ok");
    }

    #[test]
    fn streaming_syntax_parses() {
        let parsed = |sql: &str| parse_sql(sql).unwrap()[0].to_string();
        assert_eq!(
            parsed("SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '10' SECOND))"),
            "SELECT * FROM TABLE(TUMBLE(bid, DESCRIPTOR(ts), INTERVAL '10' SECOND))"
        );
        assert_eq!(
            parsed(
                "SELECT * FROM TABLE(hop(DATA => TABLE s.bid, TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '1' MINUTE, SIZE => INTERVAL '5' MINUTE))"
            ),
            "SELECT * FROM TABLE(hop(DATA => s.bid, TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '1' MINUTE, SIZE => INTERVAL '5' MINUTE))"
        );
        assert_eq!(
            parsed(
                "CREATE TABLE ev (k BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (a = 'b')"
            ),
            "CREATE TABLE ev (k BIGINT, ts TIMESTAMP, CONSTRAINT __tidewater_watermark CHECK (__tidewater_watermark(ts, ts - INTERVAL '5' SECOND))) WITH (a = 'b')"
        );
        assert_eq!(
            parsed("create table ev (ts timestamp, watermark for ts, k int)"),
            "CREATE TABLE ev (ts TIMESTAMP, k INT, CONSTRAINT __tidewater_watermark CHECK (__tidewater_watermark(ts)))"
        );
        // Columns named like the keywords are left alone.
        assert_eq!(
            parsed("SELECT watermark, tumble FROM t"),
            "SELECT watermark, tumble FROM t"
        );
        // SUBSCRIBE, where it may appear, is a marked derived table.
        let marked = |sql: &str| match &parse_sql(sql).unwrap()[0] {
            Statement::Query(q) => subscribed_query(q).map(ToString::to_string),
            _ => None,
        };
        assert_eq!(marked("SUBSCRIBE TO v").as_deref(), Some("SELECT * FROM v"));
        assert_eq!(
            marked("subscribe s.v").as_deref(),
            Some("SELECT * FROM s.v")
        );
        assert_eq!(
            marked("SUBSCRIBE (SELECT k FROM t WHERE k > 1)").as_deref(),
            Some("SELECT k FROM t WHERE k > 1")
        );
        assert_eq!(marked("SELECT subscribe FROM t"), None);
        assert!(parsed("COPY (SUBSCRIBE TO v) TO STDOUT").contains(SUBSCRIBE_ALIAS));
        assert!(parsed("DECLARE c CURSOR FOR SUBSCRIBE v").contains(SUBSCRIBE_ALIAS));
        assert!(parse_sql("SUBSCRIBE TO").is_err());
        assert!(parse_sql("SUBSCRIBE (SELECT 1").is_err());
        // FETCH in Postgres's grammar.
        assert_eq!(parsed("FETCH c"), "FETCH NEXT FROM c");
        assert_eq!(parsed("fetch all c"), "FETCH ALL FROM c");
        assert_eq!(parsed("FETCH 10 c"), "FETCH 10 FROM c");
        assert_eq!(parsed("FETCH FORWARD 3 IN c"), "FETCH FORWARD 3 FROM c");
        assert_eq!(parsed("FETCH FORWARD c"), "FETCH NEXT FROM c");
    }

    #[test]
    fn copy_options_of_more_than_one_byte() {
        for sql in [
            "COPY t FROM STDIN WITH (DELIMITER 'ab')",
            "COPY t FROM STDIN WITH (FORMAT csv, QUOTE '')",
            "COPY t FROM STDIN WITH (FORMAT csv, ESCAPE 'éé')",
            "COPY t FROM STDIN DELIMITER AS '||'",
            "COPY t FROM STDIN WITH CSV QUOTE AS 'xy'",
        ] {
            assert_eq!(code(sql), "0A000", "{sql}");
        }
        assert_eq!(code("COPY t FROM STDIN WITH (DELIMITER '|')"), "ok");
        // Only COPY's options are checked.
        assert_eq!(code("SELECT 'ab' AS delimiter"), "ok");
    }
}
