# Issue #19 items 4 and 6 through the CLI: an all-zero --init is refused by tsne, umap and cne, and --method exact
# on more than 50 000 points (the test subset given 13 times: 52 000 rows) is refused before any work, each with one
# "nembed: error:" line naming the problem; the previous output file is left as it was.
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
file(MAKE_DIRECTORY ${WORK})
set(X ${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_pca50.npy)
set(zeros "")
foreach(i RANGE 1 4000)
  string(APPEND zeros "0,0\n")
endforeach()
file(WRITE ${WORK}/zero_init.csv "${zeros}")
file(WRITE ${WORK}/old.npy "previous output")

function(expect_refused args pattern)
  expect_one_error_line("${args}")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT err MATCHES "${pattern}")
    message(FATAL_ERROR "'${args}': the error should match '${pattern}', got:\n${err}")
  endif()
  file(READ ${WORK}/old.npy old)
  if(NOT old STREQUAL "previous output")
    message(FATAL_ERROR "'${args}' changed the previous output")
  endif()
endfunction()

foreach(cmd tsne umap cne)
  expect_refused("${cmd};${X};-o;${WORK}/old.npy;--init;${WORK}/zero_init.csv;--quiet"
                 "initial embedding is degenerate: column 0 of 2 is the same \\(0\\) for all 4000 points")
endforeach()
set(big "")
foreach(i RANGE 1 13)
  list(APPEND big ${X})
endforeach()
expect_refused("tsne;${big};-o;${WORK}/old.npy;--method;exact;--quiet"
               "exact gradient is O\\(N\\^2\\).*52000 points.*--force-exact")
