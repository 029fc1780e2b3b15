# Generates a C++ source holding every migrations/*.sql file as a string literal.
# File names: NNNN_name.sql (portable), NNNN_name.sqlite.sql or NNNN_name.mariadb.sql (dialect).
file(GLOB files ${DIR}/*.sql)
list(SORT files)
set(body "#include \"db/migrations.hpp\"\nnamespace medforge::db {\nconst std::vector<EmbeddedMigrationFile>& embedded_migration_files() {\n  static const std::vector<EmbeddedMigrationFile> files = {\n")
foreach(f ${files})
  get_filename_component(name ${f} NAME)
  file(READ ${f} content)
  set(body "${body}    {\"${name}\", R\"medforge_sql(${content})medforge_sql\"},\n")
endforeach()
set(body "${body}  };\n  return files;\n}\n}  // namespace medforge::db\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
