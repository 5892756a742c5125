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
}

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
        let _guard = self.ddl.lock();
        let current = self.state();
        Self::check_new_relation(&current, name)?;
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
        let kind = match kind {
            RelationKind::Managed { .. } => {
                let dir = oid.to_string();
                let table =
                    ManagedTable::create(&self.tables_dir().join(&dir), Arc::clone(&schema))
                        .map_err(|e| io_error("cannot create table storage", e))?;
                self.tables.lock().insert(oid, Arc::new(table));
                RelationKind::Managed { dir }
            }
            other => other,
        };
        next.schema_mut(&name.database, &name.schema)?
            .relations
            .insert(
                name.name.clone(),
                RelationDef {
                    oid,
                    kind,
                    schema: schema.as_ref().clone(),
                },
            );
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|e| SqlError::internal(e.to_string()))?;
        write_atomically(&self.data_dir.join(CATALOG_FILE), &bytes)
            .map_err(|e| io_error("cannot write catalog", e))?;
        *self.state.write() = Arc::new(next);
        Ok(true)
    }

    /// Drops a table (`view = false`) or view. Returns `false` when it did
    /// not exist and `if_exists` was given.
    pub fn drop_relation(
        &self,
        name: &QualifiedName,
        view: bool,
        if_exists: bool,
    ) -> SqlResult<bool> {
        let removed = self.update(|s| {
            let kind_name = if view { "view" } else { "table" };
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
            let is_view = matches!(existing.kind, RelationKind::View { .. });
            if is_view != view {
                return Err(SqlError::new(
                    "42809",
                    format!("\"{}\" is not a {kind_name}", name.name),
                )
                .with_hint(format!(
                    "Use DROP {} to remove a {}.",
                    if is_view { "VIEW" } else { "TABLE" },
                    if is_view { "view" } else { "table" }
                )));
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
                },
            );
            Ok(Some(name))
        })
    }

    /// Drops an index.
    pub fn drop_index(&self, name: &QualifiedName, if_exists: bool) -> SqlResult<bool> {
        self.update(|s| {
            let removed = s
                .schema_mut(&name.database, &name.schema)
                .ok()
                .and_then(|schema| schema.indexes.remove(&name.name));
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
        let table = Arc::new(
            ManagedTable::open(&self.tables_dir().join(dir))
                .map_err(|e| io_error("cannot open table storage", e))?,
        );
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
            RelationKind::Connector { connector, options } => TableKind::Source {
                connector: connector.clone(),
                options: options.clone(),
            },
            RelationKind::Managed { dir } => {
                let table = match self.catalog.managed_table(rel.oid, dir) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!(table = %name, error = %e, "cannot open managed table");
                        return None;
                    }
                };
                let mut options = BTreeMap::new();
                options.insert(
                    "path".to_string(),
                    self.catalog
                        .tables_dir()
                        .join(dir)
                        .to_string_lossy()
                        .to_string(),
                );
                options.insert("committed_bytes".to_string(), table.snapshot().to_string());
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
        let mut functions =
            system::catalog_functions(self, &session.database, &session.search_path);
        functions.push(Arc::new(
            tidewater_runtime::functions::postgres::current_setting_udf(
                session.settings.iter().cloned(),
            ),
        ));
        functions
    }
}
