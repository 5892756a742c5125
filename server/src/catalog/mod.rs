//! The catalog: databases, schemas, tables and views, persisted under the
//! data directory.
//!
//! The whole catalog is one small JSON document, `catalog.json`, rewritten
//! on every DDL statement by writing a temporary file, syncing it, renaming
//! it over the old one and syncing the directory; a SIGKILL at any moment
//! leaves either the old or the new catalog. Readers take an immutable
//! snapshot ([`CatalogSnapshot`]) per statement. Managed tables keep their
//! rows in `tables/<oid>/` (see the `managed` connector); a table directory
//! not named by the catalog (left by a crash between the two steps of a
//! `CREATE` or `DROP`) is removed at startup.

pub mod system;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tidewater_connectors::managed::ManagedTable;
use tidewater_planner::{CatalogView, QualifiedName, TableEntry, TableKind};
use tidewater_runtime::source::ConnectorRegistry;

use crate::error::{SqlError, SqlResult};

/// The database every new data directory starts with.
pub const DEFAULT_DATABASE: &str = "tidewater";
/// The schema every database starts with.
pub const DEFAULT_SCHEMA: &str = "public";
/// Schemas that exist in every database and are generated, not stored.
pub const SYSTEM_SCHEMAS: [&str; 2] = ["pg_catalog", "information_schema"];
/// First OID given to user objects (as in Postgres).
pub const FIRST_USER_OID: u32 = 16384;

const CATALOG_FILE: &str = "catalog.json";
const FORMAT_VERSION: u32 = 1;

/// Where a relation's rows come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// A managed table stored in `tables/<dir>`.
    Managed {
        /// Directory name under `tables/`.
        dir: String,
    },
    /// A table read through a connector.
    Connector {
        /// Connector name.
        connector: String,
        /// Its options.
        options: BTreeMap<String, String>,
    },
    /// A view.
    View {
        /// Its query.
        sql: String,
    },
    /// A materialized view: a job keeps its rows (its object id is the
    /// view's id in the runtime). Restarting the server starts the job
    /// again from the view's sources.
    MaterializedView {
        /// Its query.
        sql: String,
        /// The relations its query reads (tables, materialized views): they
        /// cannot be dropped while the view exists.
        #[serde(default)]
        depends_on: Vec<u32>,
        /// How many workers run its job (`ALTER MATERIALIZED VIEW … SET
        /// PARALLELISM`); every worker when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parallelism: Option<usize>,
    },
}

/// What kind of relation a `DROP` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationClass {
    /// A managed or connector table.
    Table,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
}

impl RelationClass {
    /// The class of a relation.
    pub fn of(kind: &RelationKind) -> Self {
        match kind {
            RelationKind::Managed { .. } | RelationKind::Connector { .. } => Self::Table,
            RelationKind::View { .. } => Self::View,
            RelationKind::MaterializedView { .. } => Self::MaterializedView,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::View => "view",
            Self::MaterializedView => "materialized view",
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Self::Table => "TABLE",
            Self::View => "VIEW",
            Self::MaterializedView => "MATERIALIZED VIEW",
        }
    }
}

/// A table or view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelationDef {
    /// Object id.
    pub oid: u32,
    /// Kind and storage.
    pub kind: RelationKind,
    /// Columns.
    pub schema: Schema,
}

/// An index: recorded for the tools that create and list indexes; scans
/// do not use it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexDef {
    /// Object id.
    pub oid: u32,
    /// The indexed table (in the same schema).
    pub table: String,
    /// Indexed columns.
    pub columns: Vec<String>,
    /// The `PRIMARY KEY` or `UNIQUE` constraint this index was made for
    /// (named like the index); `None` for `CREATE INDEX`. Catalogs written
    /// before constraints existed have no such field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<IndexConstraint>,
}

/// A `PRIMARY KEY` or `UNIQUE` constraint, as recorded with its index.
///
/// Only the primary key's NOT NULL is enforced (its columns are NOT NULL
/// in the table's schema, checked by `INSERT` and `COPY`); uniqueness is
/// not: inserting a duplicate key succeeds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexConstraint {
    /// The constraint's object id (`pg_constraint.oid`; the index has its
    /// own).
    pub oid: u32,
    /// Which constraint.
    pub kind: ConstraintKind,
}

/// The kind of an [`IndexConstraint`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    /// `PRIMARY KEY` (`contype = 'p'`).
    PrimaryKey,
    /// `UNIQUE` (`contype = 'u'`).
    Unique,
}

/// Postgres's limit on identifier length (`NAMEDATALEN - 1` bytes).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// The longest prefix of `s` of at most `bytes` bytes.
fn truncate_bytes(s: &str, bytes: usize) -> &str {
    let mut end = bytes.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Postgres's `makeObjectName`: `name1_name2_label`, shortening the longer
/// of the two names until it fits in an identifier.
fn object_name(name1: &str, name2: &str, label: &str) -> String {
    let overhead = label.len() + 1 + usize::from(!name2.is_empty());
    let available = MAX_IDENTIFIER_BYTES.saturating_sub(overhead);
    let (mut len1, mut len2) = (name1.len(), name2.len());
    while len1 + len2 > available {
        if len1 > len2 {
            len1 -= 1;
        } else {
            len2 -= 1;
        }
    }
    let name1 = truncate_bytes(name1, len1);
    let name2 = truncate_bytes(name2, len2);
    if name2.is_empty() {
        format!("{name1}_{label}")
    } else {
        format!("{name1}_{name2}_{label}")
    }
}

/// The name Postgres gives an unnamed key constraint (and its index) of
/// `table`: `<table>_pkey` or `<table>_<columns>_key`, with a number after
/// the label when `taken` says the name is in use (`t_a_key1`).
fn key_constraint_name(
    table: &str,
    primary: bool,
    columns: &[String],
    taken: impl Fn(&str) -> bool,
) -> String {
    let (name2, label) = if primary {
        (String::new(), "pkey")
    } else {
        (
            truncate_bytes(&columns.join("_"), MAX_IDENTIFIER_BYTES).to_string(),
            "key",
        )
    };
    let mut candidate = object_name(table, &name2, label);
    let mut pass = 0;
    while taken(&candidate) {
        pass += 1;
        candidate = object_name(table, &name2, &format!("{label}{pass}"));
    }
    candidate
}

/// A schema (namespace).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SchemaDef {
    /// Object id.
    pub oid: u32,
    /// Tables and views by name.
    pub relations: BTreeMap<String, RelationDef>,
    /// Indexes by name.
    #[serde(default)]
    pub indexes: BTreeMap<String, IndexDef>,
}

/// A database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DatabaseDef {
    /// Object id.
    pub oid: u32,
    /// Schemas by name (system schemas are not stored).
    pub schemas: BTreeMap<String, SchemaDef>,
}

/// The persisted catalog.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogState {
    /// Format of this document.
    pub format_version: u32,
    /// Next free object id.
    pub next_oid: u32,
    /// Databases by name.
    pub databases: BTreeMap<String, DatabaseDef>,
}

impl CatalogState {
    fn initial() -> Self {
        let mut state = Self {
            format_version: FORMAT_VERSION,
            next_oid: FIRST_USER_OID,
            databases: BTreeMap::new(),
        };
        state.add_database(DEFAULT_DATABASE);
        state
    }

    fn allocate_oid(&mut self) -> u32 {
        let oid = self.next_oid;
        self.next_oid += 1;
        oid
    }

    fn add_database(&mut self, name: &str) {
        let oid = self.allocate_oid();
        let schema_oid = self.allocate_oid();
        let mut db = DatabaseDef {
            oid,
            schemas: BTreeMap::new(),
        };
        db.schemas.insert(
            DEFAULT_SCHEMA.to_string(),
            SchemaDef {
                oid: schema_oid,
                relations: BTreeMap::new(),
                indexes: BTreeMap::new(),
            },
        );
        self.databases.insert(name.to_string(), db);
    }

    /// Looks up a relation.
    pub fn relation(&self, name: &QualifiedName) -> Option<&RelationDef> {
        self.databases
            .get(&name.database)?
            .schemas
            .get(&name.schema)?
            .relations
            .get(&name.name)
    }

    /// The materialized views that read relation `oid`, by name.
    pub fn dependents(&self, oid: u32) -> Vec<String> {
        let mut out = Vec::new();
        for db in self.databases.values() {
            for (schema_name, schema) in &db.schemas {
                for (name, rel) in &schema.relations {
                    if let RelationKind::MaterializedView { depends_on, .. } = &rel.kind
                        && depends_on.contains(&oid)
                    {
                        out.push(format!("{schema_name}.{name}"));
                    }
                }
            }
        }
        out
    }

    fn schema_mut(&mut self, database: &str, schema: &str) -> SqlResult<&mut SchemaDef> {
        let db = self.databases.get_mut(database).ok_or_else(|| {
            SqlError::new("3D000", format!("database \"{database}\" does not exist"))
        })?;
        db.schemas
            .get_mut(schema)
            .ok_or_else(|| SqlError::new("3F000", format!("schema \"{schema}\" does not exist")))
    }
}

/// The live catalog of a server.
#[derive(Debug)]
pub struct Catalog {
    data_dir: PathBuf,
    state: RwLock<Arc<CatalogState>>,
    /// Serializes DDL.
    ddl: Mutex<()>,
    /// Open managed tables by oid.
    tables: Mutex<HashMap<u32, Arc<ManagedTable>>>,
    connectors: Arc<ConnectorRegistry>,
    /// The catalog functions of the current state, by database and search
    /// path: built once per catalog change, not once per statement.
    functions: Mutex<CatalogFunctions>,
}

/// Cached [`system::catalog_functions`] of one catalog state.
#[derive(Debug, Default)]
struct CatalogFunctions {
    state: Option<Arc<CatalogState>>,
    by_path: HashMap<(String, Vec<String>), Vec<Arc<datafusion_expr::ScalarUDF>>>,
}

/// Distinct (database, search path) pairs whose catalog functions are
/// kept; past it the cache starts over.
const CATALOG_FUNCTION_PATHS: usize = 64;

fn io_error(what: &str, e: impl std::fmt::Display) -> SqlError {
    SqlError::new("58030", format!("{what}: {e}"))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync
/// of the directory).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

impl Catalog {
    /// Opens (or creates) the catalog in `data_dir`.
    ///
    /// # Errors
    ///
    /// An unreadable or corrupt catalog file, or an unwritable directory.
    pub fn open(data_dir: &Path, connectors: Arc<ConnectorRegistry>) -> SqlResult<Self> {
        std::fs::create_dir_all(data_dir.join("tables")).map_err(|e| {
            io_error(
                &format!("cannot create data directory {}", data_dir.display()),
                e,
            )
        })?;
        let path = data_dir.join(CATALOG_FILE);
        let state = if path.exists() {
            let text = std::fs::read(&path).map_err(|e| io_error("cannot read catalog", e))?;
            let state: CatalogState = serde_json::from_slice(&text)
                .map_err(|e| io_error(&format!("corrupt catalog {}", path.display()), e))?;
            if state.format_version != FORMAT_VERSION {
                return Err(io_error(
                    "unsupported catalog format",
                    format!(
                        "version {} (expected {FORMAT_VERSION})",
                        state.format_version
                    ),
                ));
            }
            state
        } else {
            let state = CatalogState::initial();
            let bytes =
                serde_json::to_vec_pretty(&state).map_err(|e| SqlError::internal(e.to_string()))?;
            write_atomically(&path, &bytes).map_err(|e| io_error("cannot write catalog", e))?;
            state
        };
        let catalog = Self {
            data_dir: data_dir.to_path_buf(),
            state: RwLock::new(Arc::new(state)),
            ddl: Mutex::new(()),
            functions: Mutex::default(),
            tables: Mutex::new(HashMap::new()),
            connectors,
        };
        catalog.remove_orphan_tables();
        Ok(catalog)
    }

    fn tables_dir(&self) -> PathBuf {
        self.data_dir.join("tables")
    }

    fn remove_orphan_tables(&self) {
        let state = self.state();
        let mut known = std::collections::HashSet::new();
        for db in state.databases.values() {
            for schema in db.schemas.values() {
                for rel in schema.relations.values() {
                    if let RelationKind::Managed { dir } = &rel.kind {
                        known.insert(dir.clone());
                    }
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(self.tables_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !known.contains(&name) {
                tracing::warn!(dir = %entry.path().display(), "removing table data not in the catalog");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The current state.
    pub fn state(&self) -> Arc<CatalogState> {
        Arc::clone(&self.state.read())
    }

    /// A snapshot for planning one statement.
    pub fn snapshot(self: &Arc<Self>) -> CatalogSnapshot {
        CatalogSnapshot {
            state: self.state(),
            catalog: Arc::clone(self),
            settings: None,
        }
    }

    /// The connectors.
    pub fn connectors(&self) -> &Arc<ConnectorRegistry> {
        &self.connectors
    }

    /// Applies a change to a copy of the state, persists it and installs it.
    fn update<T>(&self, change: impl FnOnce(&mut CatalogState) -> SqlResult<T>) -> SqlResult<T> {
        let _guard = self.ddl.lock();
        let mut next = self.state().as_ref().clone();
        let out = change(&mut next)?;
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|e| SqlError::internal(e.to_string()))?;
        write_atomically(&self.data_dir.join(CATALOG_FILE), &bytes)
            .map_err(|e| io_error("cannot write catalog", e))?;
        *self.state.write() = Arc::new(next);
        Ok(out)
    }

    /// Sets the parallelism of materialized view `name`.
    ///
    /// # Errors
    ///
    /// `42P01` when there is no such relation, `42809` when it is not a
    /// materialized view.
    pub fn set_view_parallelism(&self, name: &QualifiedName, workers: usize) -> SqlResult<()> {
        self.update(|s| {
            let schema = s.schema_mut(&name.database, &name.schema)?;
            let Some(rel) = schema.relations.get_mut(&name.name) else {
                return Err(SqlError::new(
                    "42P01",
                    format!("relation \"{}\" does not exist", name.name),
                ));
            };
            match &mut rel.kind {
                RelationKind::MaterializedView { parallelism, .. } => {
                    *parallelism = Some(workers);
                    Ok(())
                }
                _ => Err(SqlError::new(
                    "42809",
                    format!("\"{}\" is not a materialized view", name.name),
                )),
            }
        })
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str, if_not_exists: bool) -> SqlResult<bool> {
        self.update(|s| {
            if s.databases.contains_key(name) {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(SqlError::new(
                        "42P04",
                        format!("database \"{name}\" already exists"),
                    ))
                };
            }
            s.add_database(name);
            Ok(true)
        })
    }

    /// Creates a schema.
    pub fn create_schema(
        &self,
        database: &str,
        schema: &str,
        if_not_exists: bool,
    ) -> SqlResult<bool> {
        self.update(|s| {
            if SYSTEM_SCHEMAS.contains(&schema) {
                return Err(SqlError::new(
                    "42P06",
                    format!("schema \"{schema}\" already exists"),
                ));
            }
            let oid = s.allocate_oid();
            let db = s.databases.get_mut(database).ok_or_else(|| {
                SqlError::new("3D000", format!("database \"{database}\" does not exist"))
            })?;
            if db.schemas.contains_key(schema) {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(SqlError::new(
                        "42P06",
                        format!("schema \"{schema}\" already exists"),
                    ))
                };
            }
            db.schemas.insert(
                schema.to_string(),
                SchemaDef {
                    oid,
                    relations: BTreeMap::new(),
                    indexes: BTreeMap::new(),
                },
            );
            Ok(true)
        })
    }

    fn check_new_relation(s: &CatalogState, name: &QualifiedName) -> SqlResult<()> {
        if SYSTEM_SCHEMAS.contains(&name.schema.as_str()) {
            return Err(SqlError::new(
                "42501",
                format!(
                    "permission denied to create \"{}.{}\"",
                    name.schema, name.name
                ),
            ));
        }
        if !s.databases.contains_key(&name.database) {
            return Err(SqlError::new(
                "3D000",
                format!("database \"{}\" does not exist", name.database),
            ));
        }
        if !s.databases[&name.database]
            .schemas
            .contains_key(&name.schema)
        {
            return Err(SqlError::new(
                "3F000",
                format!("schema \"{}\" does not exist", name.schema),
            ));
        }
        Ok(())
    }

    /// Creates a table or view. Returns `false` when it existed and
    /// `if_not_exists` was given. For managed tables, the storage is created
    /// before the catalog names it.
    pub fn create_relation(
        &self,
        name: &QualifiedName,
        kind: RelationKind,
        schema: SchemaRef,
        if_not_exists: bool,
        or_replace: bool,
    ) -> SqlResult<bool> {
        self.create_relation_with_keys(name, kind, schema, if_not_exists, or_replace, &[])
    }

    /// Creates a table with `PRIMARY KEY` / `UNIQUE` constraints: each is
    /// recorded as an index of the table (named after the constraint,
    /// Postgres's generated name when it has none) carrying the
    /// constraint. The table and its keys appear in one catalog change.
    /// Uniqueness is not enforced; the primary key's columns must already
    /// be NOT NULL in `schema`.
    ///
    /// # Errors
    ///
    /// As [`Self::create_relation`]; a key column missing from `schema`
    /// (42703); a constraint name that is taken (42P07).
    pub fn create_table_with_keys(
        &self,
        name: &QualifiedName,
        kind: RelationKind,
        schema: SchemaRef,
        if_not_exists: bool,
        keys: &[tidewater_planner::statement::KeyConstraint],
    ) -> SqlResult<bool> {
        self.create_relation_with_keys(name, kind, schema, if_not_exists, false, keys)
    }

    fn create_relation_with_keys(
        &self,
        name: &QualifiedName,
        kind: RelationKind,
        schema: SchemaRef,
        if_not_exists: bool,
        or_replace: bool,
        keys: &[tidewater_planner::statement::KeyConstraint],
    ) -> SqlResult<bool> {
        let _guard = self.ddl.lock();
        let current = self.state();
        Self::check_new_relation(&current, name)?;
        let index_named = current.databases[&name.database].schemas[&name.schema]
            .indexes
            .contains_key(&name.name);
        if index_named {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::new(
                    "42P07",
                    format!("relation \"{}\" already exists", name.name),
                ))
            };
        }
        if let Some(existing) = current.relation(name) {
            let replace_view = or_replace
                && matches!(existing.kind, RelationKind::View { .. })
                && matches!(kind, RelationKind::View { .. });
            if if_not_exists {
                return Ok(false);
            }
            if !replace_view {
                return Err(SqlError::new(
                    "42P07",
                    format!("relation \"{}\" already exists", name.name),
                ));
            }
        }
        let mut next = current.as_ref().clone();
        let oid = match next.relation(name) {
            Some(existing) => existing.oid,
            None => next.allocate_oid(),
        };
        let indexes = Self::key_indexes(&mut next, name, &schema, keys)?;
        let kind = match kind {
            RelationKind::Managed { .. } => {
                let dir = oid.to_string();
                let table = tidewater_connectors::managed::create_table(
                    &self.tables_dir().join(&dir),
                    Arc::clone(&schema),
                )
                .map_err(|e| io_error("cannot create table storage", e))?;
                self.tables.lock().insert(oid, table);
                RelationKind::Managed { dir }
            }
            other => other,
        };
        let schema_def = next.schema_mut(&name.database, &name.schema)?;
        schema_def.relations.insert(
            name.name.clone(),
            RelationDef {
                oid,
                kind,
                schema: schema.as_ref().clone(),
            },
        );
        schema_def.indexes.extend(indexes);
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|e| SqlError::internal(e.to_string()))?;
        write_atomically(&self.data_dir.join(CATALOG_FILE), &bytes)
            .map_err(|e| io_error("cannot write catalog", e))?;
        *self.state.write() = Arc::new(next);
        Ok(true)
    }

    /// The indexes that record `keys` of the new table `table` (OIDs
    /// allocated in `state`: the index's, then the constraint's, as
    /// Postgres does), by name.
    fn key_indexes(
        state: &mut CatalogState,
        table: &QualifiedName,
        schema: &Schema,
        keys: &[tidewater_planner::statement::KeyConstraint],
    ) -> SqlResult<Vec<(String, IndexDef)>> {
        let mut out: Vec<(String, IndexDef)> = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(missing) = key
                .columns
                .iter()
                .find(|c| schema.field_with_name(c).is_err())
            {
                return Err(SqlError::new(
                    "42703",
                    format!("column \"{missing}\" named in key does not exist"),
                ));
            }
            let existing = state
                .databases
                .get(&table.database)
                .and_then(|db| db.schemas.get(&table.schema));
            let taken = |candidate: &str| {
                candidate == table.name
                    || out.iter().any(|(n, _)| n == candidate)
                    || existing.is_some_and(|s| {
                        s.relations.contains_key(candidate) || s.indexes.contains_key(candidate)
                    })
            };
            let index_name = match &key.name {
                Some(n) if taken(n) => {
                    return Err(SqlError::new(
                        "42P07",
                        format!("relation \"{n}\" already exists"),
                    ));
                }
                Some(n) => n.clone(),
                None => key_constraint_name(&table.name, key.primary, &key.columns, taken),
            };
            let index_oid = state.allocate_oid();
            let constraint_oid = state.allocate_oid();
            out.push((
                index_name,
                IndexDef {
                    oid: index_oid,
                    table: table.name.clone(),
                    columns: key.columns.clone(),
                    constraint: Some(IndexConstraint {
                        oid: constraint_oid,
                        kind: if key.primary {
                            ConstraintKind::PrimaryKey
                        } else {
                            ConstraintKind::Unique
                        },
                    }),
                },
            ));
        }
        Ok(out)
    }

    /// Drops a table, view or materialized view (`class` says which the
    /// statement names). Returns `false` when it did not exist and
    /// `if_exists` was given.
    ///
    /// # Errors
    ///
    /// When the relation is of another class, or a materialized view reads
    /// it (2BP01).
    pub fn drop_relation(
        &self,
        name: &QualifiedName,
        class: RelationClass,
        if_exists: bool,
    ) -> SqlResult<bool> {
        let removed = self.update(|s| {
            let kind_name = class.noun();
            let Some(existing) = s.relation(name).cloned() else {
                return if if_exists {
                    Ok(None)
                } else {
                    Err(SqlError::new(
                        "42P01",
                        format!("{kind_name} \"{}\" does not exist", name.name),
                    ))
                };
            };
            let is = RelationClass::of(&existing.kind);
            if is != class {
                return Err(SqlError::new(
                    "42809",
                    format!("\"{}\" is not a {kind_name}", name.name),
                )
                .with_hint(format!(
                    "Use DROP {} to remove a {}.",
                    is.keyword(),
                    is.noun()
                )));
            }
            if let Some(dependent) = s.dependents(existing.oid).first() {
                return Err(SqlError::new(
                    "2BP01",
                    format!(
                        "cannot drop {kind_name} {} because other objects depend on it",
                        name.name
                    ),
                )
                .with_detail(format!(
                    "materialized view {dependent} depends on {kind_name} {}",
                    name.name
                ))
                .with_hint("Drop the dependent materialized views first."));
            }
            let schema = s.schema_mut(&name.database, &name.schema)?;
            schema.relations.remove(&name.name);
            schema.indexes.retain(|_, index| index.table != name.name);
            Ok(Some(existing))
        })?;
        match removed {
            None => Ok(false),
            Some(def) => {
                if let RelationKind::Managed { dir } = def.kind {
                    self.tables.lock().remove(&def.oid);
                    if let Err(e) = std::fs::remove_dir_all(self.tables_dir().join(&dir)) {
                        tracing::warn!(error = %e, dir, "could not remove table data");
                    }
                }
                Ok(true)
            }
        }
    }

    /// Creates an index on `table` (names are unique among the schema's
    /// relations and indexes). Returns the index name, or `None` when it
    /// existed and `if_not_exists` was given.
    pub fn create_index(
        &self,
        table: &QualifiedName,
        name: Option<&str>,
        columns: &[String],
        if_not_exists: bool,
    ) -> SqlResult<Option<String>> {
        self.update(|s| {
            let name = match name {
                Some(n) => n.to_string(),
                None => {
                    let schema = s.schema_mut(&table.database, &table.schema)?;
                    let base = format!("{}_{}_idx", table.name, columns.join("_"));
                    let mut candidate = base.clone();
                    let mut n = 0;
                    while schema.indexes.contains_key(&candidate)
                        || schema.relations.contains_key(&candidate)
                    {
                        n += 1;
                        candidate = format!("{base}{n}");
                    }
                    candidate
                }
            };
            let oid = s.allocate_oid();
            let schema = s.schema_mut(&table.database, &table.schema)?;
            if schema.indexes.contains_key(&name) || schema.relations.contains_key(&name) {
                return if if_not_exists {
                    Ok(None)
                } else {
                    Err(SqlError::new(
                        "42P07",
                        format!("relation \"{name}\" already exists"),
                    ))
                };
            }
            schema.indexes.insert(
                name.clone(),
                IndexDef {
                    oid,
                    table: table.name.clone(),
                    columns: columns.to_vec(),
                    constraint: None,
                },
            );
            Ok(Some(name))
        })
    }

    /// Drops an index (not one that a constraint uses: 2BP01, as in
    /// Postgres).
    pub fn drop_index(&self, name: &QualifiedName, if_exists: bool) -> SqlResult<bool> {
        self.update(|s| {
            let schema = s.schema_mut(&name.database, &name.schema).ok();
            if let Some(index) = schema.as_ref().and_then(|s| s.indexes.get(&name.name))
                && index.constraint.is_some()
            {
                return Err(SqlError::new(
                    "2BP01",
                    format!(
                        "cannot drop index {0} because constraint {0} on table {1} requires it",
                        name.name, index.table
                    ),
                )
                .with_hint(format!(
                    "You can drop constraint {} on table {} instead.",
                    name.name, index.table
                )));
            }
            let removed = schema.and_then(|schema| schema.indexes.remove(&name.name));
            match removed {
                Some(_) => Ok(true),
                None if if_exists => Ok(false),
                None => Err(SqlError::new(
                    "42704",
                    format!("index \"{}\" does not exist", name.name),
                )),
            }
        })
    }

    /// Drops a schema; with `cascade`, also what it contains.
    pub fn drop_schema(
        &self,
        database: &str,
        schema: &str,
        if_exists: bool,
        cascade: bool,
    ) -> SqlResult<bool> {
        let removed = self.update(|s| {
            if SYSTEM_SCHEMAS.contains(&schema) {
                return Err(SqlError::new(
                    "2BP01",
                    format!(
                        "cannot drop schema {schema} because it is required by the database system"
                    ),
                ));
            }
            let db = s.databases.get_mut(database).ok_or_else(|| {
                SqlError::new("3D000", format!("database \"{database}\" does not exist"))
            })?;
            match db.schemas.get(schema) {
                None if if_exists => Ok(None),
                None => Err(SqlError::new(
                    "3F000",
                    format!("schema \"{schema}\" does not exist"),
                )),
                Some(def) if !def.relations.is_empty() && !cascade => Err(SqlError::new(
                    "2BP01",
                    format!("cannot drop schema {schema} because other objects depend on it"),
                )
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")),
                Some(_) => Ok(db.schemas.remove(schema)),
            }
        })?;
        match removed {
            None => Ok(false),
            Some(def) => {
                self.remove_storage(def.relations.values());
                Ok(true)
            }
        }
    }

    /// Drops a database.
    pub fn drop_database(&self, name: &str, if_exists: bool, current: &str) -> SqlResult<bool> {
        if name == current {
            return Err(SqlError::new(
                "55006",
                "cannot drop the currently open database",
            ));
        }
        let removed = self.update(|s| match s.databases.remove(name) {
            None if if_exists => Ok(None),
            None => Err(SqlError::new(
                "3D000",
                format!("database \"{name}\" does not exist"),
            )),
            Some(def) => Ok(Some(def)),
        })?;
        match removed {
            None => Ok(false),
            Some(def) => {
                for schema in def.schemas.values() {
                    self.remove_storage(schema.relations.values());
                }
                Ok(true)
            }
        }
    }

    fn remove_storage<'a>(&self, relations: impl Iterator<Item = &'a RelationDef>) {
        for rel in relations {
            if let RelationKind::Managed { dir } = &rel.kind {
                self.tables.lock().remove(&rel.oid);
                let _ = std::fs::remove_dir_all(self.tables_dir().join(dir));
            }
        }
    }

    /// The storage of a managed table.
    pub fn managed_table(&self, oid: u32, dir: &str) -> SqlResult<Arc<ManagedTable>> {
        let mut tables = self.tables.lock();
        if let Some(t) = tables.get(&oid) {
            return Ok(Arc::clone(t));
        }
        let table = tidewater_connectors::managed::open_table(&self.tables_dir().join(dir))
            .map_err(|e| io_error("cannot open table storage", e))?;
        tables.insert(oid, Arc::clone(&table));
        Ok(table)
    }

    /// The storage of the managed table named `name`.
    pub fn managed_table_by_name(&self, name: &QualifiedName) -> SqlResult<Arc<ManagedTable>> {
        let state = self.state();
        match state.relation(name) {
            Some(RelationDef {
                oid,
                kind: RelationKind::Managed { dir },
                ..
            }) => self.managed_table(*oid, dir),
            _ => Err(SqlError::new(
                "42P01",
                format!("relation \"{}\" does not exist", name.name),
            )),
        }
    }
}

/// A consistent view of the catalog for planning one statement.
#[derive(Debug, Clone)]
pub struct CatalogSnapshot {
    /// The catalog state.
    pub state: Arc<CatalogState>,
    catalog: Arc<Catalog>,
    /// The session's settings, for `pg_settings` (server defaults when unset).
    settings: Option<Arc<Vec<(String, String)>>>,
}

impl CatalogSnapshot {
    /// [`system::catalog_functions`] of this snapshot, built at most once
    /// per catalog state, database and search path.
    fn catalog_functions(
        &self,
        database: &str,
        search_path: &[String],
    ) -> Vec<Arc<datafusion_expr::ScalarUDF>> {
        let key = (database.to_string(), search_path.to_vec());
        {
            let cache = self.catalog.functions.lock();
            if let Some(state) = &cache.state
                && Arc::ptr_eq(state, &self.state)
                && let Some(functions) = cache.by_path.get(&key)
            {
                return functions.clone();
            }
        }
        let functions = system::catalog_functions(self, database, search_path);
        let mut cache = self.catalog.functions.lock();
        if !cache
            .state
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &self.state))
            || cache.by_path.len() >= CATALOG_FUNCTION_PATHS
        {
            cache.state = Some(Arc::clone(&self.state));
            cache.by_path.clear();
        }
        cache.by_path.insert(key, functions.clone());
        functions
    }

    /// The same snapshot, showing a session's settings in `pg_settings`.
    pub fn with_settings(mut self, settings: Vec<(String, String)>) -> Self {
        self.settings = Some(Arc::new(settings));
        self
    }

    /// The live catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }
}

impl CatalogView for CatalogSnapshot {
    fn table(&self, name: &QualifiedName) -> Option<TableEntry> {
        if SYSTEM_SCHEMAS.contains(&name.schema.as_str()) {
            if !self.state.databases.contains_key(&name.database) {
                return None;
            }
            let found = match &self.settings {
                Some(settings) => system::system_table_with_settings(self, name, settings),
                None => system::system_table(self, name),
            };
            return found.map(|(schema, batch)| TableEntry {
                name: name.clone(),
                schema,
                kind: TableKind::System { batch },
            });
        }
        let rel = self.state.relation(name)?;
        let schema = Arc::new(rel.schema.clone());
        let kind = match &rel.kind {
            RelationKind::View { sql } => TableKind::View { sql: sql.clone() },
            RelationKind::MaterializedView { .. } => TableKind::Materialized {
                view: u64::from(rel.oid),
            },
            RelationKind::Connector { connector, options } => TableKind::Source {
                connector: connector.clone(),
                options: options.clone(),
            },
            RelationKind::Managed { dir } => {
                // A table whose storage cannot be opened is not planned.
                if let Err(e) = self.catalog.managed_table(rel.oid, dir) {
                    tracing::error!(table = %name, error = %e, "cannot open managed table");
                    return None;
                }
                let mut options = BTreeMap::new();
                options.insert(
                    "path".to_string(),
                    self.catalog
                        .tables_dir()
                        .join(dir)
                        .to_string_lossy()
                        .to_string(),
                );
                // The committed length is fixed when the query runs (see
                // the session's `with_table_snapshots`).
                TableKind::Source {
                    connector: "managed".to_string(),
                    options,
                }
            }
        };
        Some(TableEntry {
            name: name.clone(),
            schema,
            kind,
        })
    }

    fn schema_exists(&self, database: &str, schema: &str) -> bool {
        self.state
            .databases
            .get(database)
            .is_some_and(|db| db.schemas.contains_key(schema) || SYSTEM_SCHEMAS.contains(&schema))
    }

    fn database_exists(&self, database: &str) -> bool {
        self.state.databases.contains_key(database)
    }

    fn statement_functions(
        &self,
        session: &tidewater_planner::SessionInfo,
    ) -> Vec<Arc<datafusion_expr::ScalarUDF>> {
        let mut functions = self.catalog_functions(&session.database, &session.search_path);
        functions.push(Arc::new(
            tidewater_runtime::functions::pg::settings::current_setting_udf(
                session.settings.iter().cloned(),
            ),
        ));
        functions
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};
    use tidewater_planner::statement::KeyConstraint;

    use super::*;

    fn key(name: Option<&str>, primary: bool, columns: &[&str]) -> KeyConstraint {
        KeyConstraint {
            name: name.map(str::to_string),
            primary,
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
        }
    }

    #[test]
    fn key_names_like_postgres() {
        let none = |_: &str| false;
        assert_eq!(key_constraint_name("t", true, &[], none), "t_pkey");
        assert_eq!(
            key_constraint_name("t", false, &["a".into(), "b".into()], none),
            "t_a_b_key"
        );
        assert_eq!(
            key_constraint_name("t", false, &["a".into()], |n| n == "t_a_key"),
            "t_a_key1"
        );
        // Too long: the longer part is shortened to fit 63 bytes.
        let long = "x".repeat(70);
        let name = key_constraint_name(&long, false, &["col".into()], none);
        assert_eq!(name.len(), 63);
        assert_eq!(name, format!("{}_col_key", "x".repeat(55)));
    }

    #[test]
    fn keys_persist_and_old_catalogs_load() {
        let dir = tempfile::tempdir().unwrap();
        let connectors = Arc::new(tidewater_connectors::registry());
        let name = QualifiedName::new(DEFAULT_DATABASE, DEFAULT_SCHEMA, "t");
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("code", DataType::Utf8, true),
        ]));
        {
            let catalog = Catalog::open(dir.path(), Arc::clone(&connectors)).unwrap();
            catalog
                .create_table_with_keys(
                    &name,
                    RelationKind::Managed { dir: String::new() },
                    Arc::clone(&schema),
                    false,
                    &[
                        key(None, true, &["id"]),
                        key(Some("t_code"), false, &["code"]),
                    ],
                )
                .unwrap();
            let missing = catalog.create_table_with_keys(
                &QualifiedName::new(DEFAULT_DATABASE, DEFAULT_SCHEMA, "u"),
                RelationKind::Managed { dir: String::new() },
                Arc::clone(&schema),
                false,
                &[key(None, false, &["nope"])],
            );
            assert_eq!(missing.unwrap_err().code, "42703");
        }
        let catalog = Catalog::open(dir.path(), Arc::clone(&connectors)).unwrap();
        let state = catalog.state();
        let public = &state.databases[DEFAULT_DATABASE].schemas[DEFAULT_SCHEMA];
        let table_oid = public.relations["t"].oid;
        let pkey = &public.indexes["t_pkey"];
        let code = &public.indexes["t_code"];
        assert_eq!((pkey.oid, pkey.table.as_str()), (table_oid + 1, "t"));
        assert_eq!(
            pkey.constraint,
            Some(IndexConstraint {
                oid: table_oid + 2,
                kind: ConstraintKind::PrimaryKey
            })
        );
        assert_eq!(
            code.constraint.map(|c| c.kind),
            Some(ConstraintKind::Unique)
        );
        assert!(!public.relations.contains_key("u"));
        // Constraint indexes cannot be dropped on their own; the table
        // takes them along.
        let pkey_name = QualifiedName::new(DEFAULT_DATABASE, DEFAULT_SCHEMA, "t_pkey");
        assert_eq!(
            catalog.drop_index(&pkey_name, false).unwrap_err().code,
            "2BP01"
        );
        catalog
            .drop_relation(&name, RelationClass::Table, false)
            .unwrap();
        assert!(
            catalog.state().databases[DEFAULT_DATABASE].schemas[DEFAULT_SCHEMA]
                .indexes
                .is_empty()
        );

        // A catalog written before constraints existed: indexes without the
        // field load as plain indexes.
        let old = tempfile::tempdir().unwrap();
        let mut text = serde_json::to_value(CatalogState::initial()).unwrap();
        text["databases"][DEFAULT_DATABASE]["schemas"][DEFAULT_SCHEMA]["indexes"] = serde_json::json!({
            "t_idx": { "oid": 20000, "table": "t", "columns": ["id"] }
        });
        std::fs::write(
            old.path().join(CATALOG_FILE),
            serde_json::to_vec(&text).unwrap(),
        )
        .unwrap();
        let catalog = Catalog::open(old.path(), connectors).unwrap();
        let index =
            &catalog.state().databases[DEFAULT_DATABASE].schemas[DEFAULT_SCHEMA].indexes["t_idx"];
        assert_eq!(index.constraint, None);
        assert_eq!(index.columns, ["id"]);
    }
}
