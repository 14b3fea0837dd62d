# CTest entries that run the real cafes-admin binary on databases written by
# `sample_database` (healthy or damaged) and by the concurrency demo. Each
# checks the exit code and the output through cmake/run_admin_check.cmake.

set(admin_dir "${CMAKE_CURRENT_BINARY_DIR}/admin")
file(MAKE_DIRECTORY ${admin_dir}) # sample_database also creates it
set(admin_check "${PROJECT_SOURCE_DIR}/cmake/run_admin_check.cmake")
set(admin_env "UBSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/ubsan.supp:print_stacktrace=1")
set(account_id 10000000-0000-4000-8000-000000000001)
set(tally_id 30000000-0000-4000-8000-000000000003)

# add_admin_test(<name> [EXIT n] [OUTPUT regex] [REJECT regex] [LINES n]
#                [STDIN file] [STDOUT file] [REMOVE path] [SETUP fixture]
#                [REQUIRES fixture...] [DEPENDS test...] COMMAND <args of cafes-admin>)
# Adds the CTest entry admin.<name>; COMMAND runs cafes-admin unless its
# first word is `sample_database` or `cafes-stress`.
function(add_admin_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg ""
    "EXIT;OUTPUT;REJECT;LINES;STDIN;STDOUT;REMOVE;SETUP" "REQUIRES;DEPENDS;COMMAND")
  set(defines)
  foreach(pair EXIT:EXPECT_EXIT OUTPUT:EXPECT_OUTPUT REJECT:REJECT_OUTPUT
               LINES:EXPECT_LINES STDIN:STDIN_FILE STDOUT:STDOUT_FILE REMOVE:REMOVE_FIRST)
    string(REPLACE ":" ";" pair "${pair}")
    list(GET pair 0 key)
    list(GET pair 1 variable)
    if(DEFINED arg_${key})
      list(APPEND defines "-D${variable}=${arg_${key}}")
    endif()
  endforeach()
  set(command ${arg_COMMAND})
  set(first "")
  if(command)
    list(GET command 0 first)
  endif()
  if(first STREQUAL "sample_database" OR first STREQUAL "cafes-stress")
    list(POP_FRONT command)
    set(program $<TARGET_FILE:${first}>)
  else()
    set(program $<TARGET_FILE:cafes-admin>)
  endif()
  add_test(NAME admin.${name}
           COMMAND ${CMAKE_COMMAND} ${defines} -P ${admin_check} -- ${program} ${command})
  set_tests_properties(admin.${name} PROPERTIES ENVIRONMENT "${admin_env}")
  if(arg_REQUIRES)
    set_tests_properties(admin.${name} PROPERTIES FIXTURES_REQUIRED "${arg_REQUIRES}")
  endif()
  if(arg_SETUP)
    set_tests_properties(admin.${name} PROPERTIES FIXTURES_SETUP ${arg_SETUP})
  endif()
  if(arg_DEPENDS)
    set_tests_properties(admin.${name} PROPERTIES DEPENDS "${arg_DEPENDS}")
  endif()
endfunction()

# -- a healthy database: the read commands -----------------------------------
add_admin_test(sample SETUP admin_sample
  COMMAND sample_database --db ${admin_dir}/healthy)
add_admin_test(verify.healthy REQUIRES admin_sample
  OUTPUT "3 entities, 7 events, 7 log entries, 19 keys.*verify: no problems"
  COMMAND verify --db ${admin_dir}/healthy)
add_admin_test(stats REQUIRES admin_sample
  OUTPUT "entities +3\nevents +7\nlongest history +3\nlog entries +7\ncommands with ids +1\nviews +0\nview rows +0\nlast position +7\nother keys +0.*bank.deposited +1\n.*tally.added +2\n"
  COMMAND stats --db ${admin_dir}/healthy)
add_admin_test(entities REQUIRES admin_sample LINES 3
  OUTPUT "^${account_id} 3\n20000000-0000-4000-8000-000000000002 2\n${tally_id} 2\n$"
  COMMAND entities --db ${admin_dir}/healthy)
add_admin_test(history REQUIRES admin_sample LINES 3
  OUTPUT " 1  @1 +[-0-9T:.]+Z  bank.opened .* 7 bytes 03000000616461\n.* 2  @2 .*bank.deposited.* command c0000000-0000-4000-8000-00000000000c  correlation c0000000-0000-4000-8000-0000000000cc  causation [-0-9a-f]+\n.* 3  @3 .*bank.withdrawn"
  COMMAND history --db ${admin_dir}/healthy ${account_id})
add_admin_test(history.json REQUIRES admin_sample LINES 2
  OUTPUT "\"entity\":\"${tally_id}\",\"version\":2,\"position\":7,"
  COMMAND history --db ${admin_dir}/healthy ${tally_id} --json)
add_admin_test(history.unknown_entity REQUIRES admin_sample EXIT 1
  OUTPUT "error: entity 40000000-0000-4000-8000-000000000004 has no events"
  COMMAND history --db ${admin_dir}/healthy 40000000-0000-4000-8000-000000000004)
add_admin_test(history.bad_id REQUIRES admin_sample EXIT 2
  OUTPUT "^error: 'not-an-id' is not an entity id"
  COMMAND history --db ${admin_dir}/healthy not-an-id)
add_admin_test(recover.healthy REQUIRES admin_sample
  OUTPUT "opens normally: nothing to recover, nothing changed \\(3 entities, 7 events\\)"
  COMMAND recover --db ${admin_dir}/healthy --yes)

# -- export, import into a new directory, export again: the same bytes -------
add_admin_test(export REQUIRES admin_sample SETUP admin_export
  STDOUT ${admin_dir}/export-summary.txt
  OUTPUT "^exported 3 entities, 7 events\n$"
  COMMAND export --db ${admin_dir}/healthy --out ${admin_dir}/first.jsonl)
add_admin_test(export.stdout REQUIRES admin_sample LINES 7
  OUTPUT "^{\"entity\":\"${account_id}\",\"version\":1,\"position\":1,.*exported 3 entities, 7 events\n$"
  COMMAND export --db ${admin_dir}/healthy)
add_admin_test(import REQUIRES admin_export SETUP admin_import
  REMOVE ${admin_dir}/imported
  OUTPUT "^imported 3 entities, 7 events from 7 lines into "
  COMMAND import --db ${admin_dir}/imported --in ${admin_dir}/first.jsonl)
add_admin_test(import.verify REQUIRES admin_import
  OUTPUT "verify: no problems"
  COMMAND verify --db ${admin_dir}/imported)
add_admin_test(export.again REQUIRES admin_import SETUP admin_export_again
  COMMAND export --db ${admin_dir}/imported --out ${admin_dir}/second.jsonl)
add_test(NAME admin.export.identical
  COMMAND ${CMAKE_COMMAND} -E compare_files ${admin_dir}/first.jsonl ${admin_dir}/second.jsonl)
set_tests_properties(admin.export.identical PROPERTIES
  FIXTURES_REQUIRED "admin_export;admin_export_again")
add_admin_test(import.stdin REQUIRES admin_export
  REMOVE ${admin_dir}/imported-stdin STDIN ${admin_dir}/first.jsonl
  OUTPUT "^imported 3 entities, 7 events from 7 lines"
  COMMAND import --db ${admin_dir}/imported-stdin)
# Its own database: a writable open must not run beside the readers of `healthy`.
add_admin_test(import_target SETUP admin_import_target
  COMMAND sample_database --db ${admin_dir}/import-target)
add_admin_test(import.not_empty REQUIRES admin_import_target admin_export EXIT 2
  OUTPUT "^error: the store already holds entities"
  COMMAND import --db ${admin_dir}/import-target --in ${admin_dir}/first.jsonl)
# A file written by the format 1 cafes-admin (no positions or command ids;
# entities in id order) imports; the store gives positions in line order.
add_admin_test(import.format1 SETUP admin_import_format1
  REMOVE ${admin_dir}/imported-format1
  OUTPUT "^imported 2 entities, 4 events from 4 lines into "
  COMMAND import --db ${admin_dir}/imported-format1
          --in ${CMAKE_CURRENT_SOURCE_DIR}/data/admin_format1.jsonl)
add_admin_test(import.format1.verify REQUIRES admin_import_format1
  OUTPUT "2 entities, 4 events, 4 log entries.*verify: no problems"
  COMMAND verify --db ${admin_dir}/imported-format1)
add_admin_test(import.format1.export REQUIRES admin_import_format1
  DEPENDS admin.import.format1.verify LINES 4
  OUTPUT "\"version\":3,\"position\":3,.*\"entity\":\"20000000-0000-4000-8000-000000000002\",\"version\":1,\"position\":4,"
  COMMAND export --db ${admin_dir}/imported-format1)
add_admin_test(import.malformed EXIT 1 REMOVE ${admin_dir}/imported-malformed
  OUTPUT "^error: line 3: the field 'type' is missing\nimported 1 entity, 2 events before it"
  COMMAND import --db ${admin_dir}/imported-malformed
          --in ${CMAKE_CURRENT_SOURCE_DIR}/data/admin_malformed.jsonl)

# -- damaged databases: verify exits 1 naming the damage ---------------------
foreach(case
    "foreign-key|problem: key 78: not a key cafes writes"
    "gap|problem: entity ${account_id} version 5: a gap: version 4 is missing"
    "headless|problem: entity ${tally_id}: it has events up to version 2 but no head"
    "unknown-type|problem: entity ${tally_id} version 3: unknown event type 'tally.subtracted'"
    "undecodable-event|problem: entity ${account_id} version 2: the record does not decode"
    "log-dangling-entry|problem: position 8: its log entry points at entity 40000000-0000-4000-8000-000000000004 version 1, which is not stored"
    "log-position-mismatch|problem: position 2: its log entry points at entity ${account_id} version 2, whose record says position 9"
    "log-last-position|problem: key 70+: the global log's last position says 9 but its entries end at position 7")
  string(REPLACE "|" ";" case "${case}")
  list(GET case 0 damage)
  list(GET case 1 says)
  add_admin_test(damaged.${damage} SETUP admin_damaged_${damage}
    COMMAND sample_database --db ${admin_dir}/damaged-${damage} --damage ${damage})
  add_admin_test(verify.damaged.${damage} REQUIRES admin_damaged_${damage} EXIT 1
    OUTPUT "${says}.*verify: 1 problem\n"
    COMMAND verify --db ${admin_dir}/damaged-${damage})
endforeach()
add_admin_test(verify.missing EXIT 3
  OUTPUT "^error: cannot open database at '[^']*/admin/no-such-db': no such directory"
  COMMAND verify --db ${admin_dir}/no-such-db)

# -- a write-ahead log damaged mid-way: recover ------------------------------
add_admin_test(damaged.wal SETUP admin_damaged_wal
  COMMAND sample_database --db ${admin_dir}/damaged-wal --damaged-wal)
add_admin_test(recover.refused_by_verify REQUIRES admin_damaged_wal EXIT 3
  OUTPUT "it is damaged.*cafes-admin recover --db"
  COMMAND verify --db ${admin_dir}/damaged-wal)
add_admin_test(recover.without_yes REQUIRES admin_damaged_wal EXIT 2
  DEPENDS admin.recover.refused_by_verify
  OUTPUT "^error: recover .*every event after the damage is lost for good. Copy the directory first"
  COMMAND recover --db ${admin_dir}/damaged-wal)
add_admin_test(recover REQUIRES admin_damaged_wal SETUP admin_recovered
  DEPENDS admin.recover.without_yes
  OUTPUT "^recovered .* kept 3 entities, [0-9]+ events. the events after the damage are gone"
  COMMAND recover --db ${admin_dir}/damaged-wal --yes)
add_admin_test(recover.verify REQUIRES admin_recovered
  OUTPUT "verify: no problems"
  COMMAND verify --db ${admin_dir}/damaged-wal)

# -- bad usage exits 2 with one line -----------------------------------------
add_admin_test(usage.no_command EXIT 2
  OUTPUT "^error: A subcommand is required" COMMAND)
add_admin_test(usage.no_db EXIT 2
  OUTPUT "^error: --db is required" COMMAND stats)
add_admin_test(usage.unknown_option EXIT 2
  OUTPUT "^error: The following argument was not expected: --bogus"
  COMMAND verify --db ${admin_dir}/healthy --bogus)
add_admin_test(usage.unknown_command EXIT 2
  OUTPUT "^error: " COMMAND frobnicate --db ${admin_dir}/healthy)
add_admin_test(usage.bad_number EXIT 2
  OUTPUT "^error: .*max-problems" COMMAND verify --db ${admin_dir}/healthy --max-problems lots)
add_admin_test(help OUTPUT "verify.*stats.*entities.*history.*export.*import.*recover"
  COMMAND --help)

# -- a database written by the concurrency demo verifies clean ---------------
add_admin_test(verify.concurrency_demo REQUIRES demo_db_first
  DEPENDS example.concurrency_demo.disk.second
  OUTPUT "1 entity, [0-9]+ events.*verify: no problems"
  COMMAND verify --db ${CMAKE_BINARY_DIR}/examples/demo-test-db)

# -- a database of 20,000 entities written by cafes-stress: more than one page
# of list_entities (admin::list_page, 16,384) for entities, export and import -
add_admin_test(stress_db SETUP admin_stress_db REMOVE ${admin_dir}/stress
  OUTPUT "verification +passed"
  COMMAND cafes-stress --db ${admin_dir}/stress --entities 20000 --clients 10
          --commands 2500 --keys sequential)
add_admin_test(verify.stress_db REQUIRES admin_stress_db
  OUTPUT "20,000 entities, [0-9,]+ events.*verify: no problems"
  COMMAND verify --db ${admin_dir}/stress)
add_admin_test(entities.stress_db REQUIRES admin_stress_db LINES 20000
  COMMAND entities --db ${admin_dir}/stress)
add_admin_test(export.stress_db REQUIRES admin_stress_db SETUP admin_stress_export
  OUTPUT "^exported 20,000 entities, "
  COMMAND export --db ${admin_dir}/stress --out ${admin_dir}/stress-first.jsonl)
add_admin_test(import.stress_db REQUIRES admin_stress_export SETUP admin_stress_import
  REMOVE ${admin_dir}/stress-imported
  OUTPUT "^imported 20,000 entities, "
  COMMAND import --db ${admin_dir}/stress-imported --in ${admin_dir}/stress-first.jsonl)
add_admin_test(export.again.stress_db REQUIRES admin_stress_import
  SETUP admin_stress_export_again
  COMMAND export --db ${admin_dir}/stress-imported --out ${admin_dir}/stress-second.jsonl)
add_test(NAME admin.export.identical.stress_db
  COMMAND ${CMAKE_COMMAND} -E compare_files ${admin_dir}/stress-first.jsonl
          ${admin_dir}/stress-second.jsonl)
set_tests_properties(admin.export.identical.stress_db PROPERTIES
  FIXTURES_REQUIRED "admin_stress_export;admin_stress_export_again")
