# nembed tsne under mpirun (docs/mpi.md), run by CTest when MPI was found.
#   MODE=same:      one process, then mpirun -n NP; the two .npy outputs must be the same bytes.
#   MODE=truncated: mpirun -n NP on a copy of the data cut short, so the last rank's block is incomplete; every rank
#                   must exit (no hang: the test's TIMEOUT) with a non-zero code and one error line naming the
#                   truncation.
# Variables: NEMBED, MPIEXEC, MPIFLAGS (;-list), NP, DATA, WORK, MODE.
file(MAKE_DIRECTORY ${WORK})
# --point-order none: the order a distributed run keeps (auto is hilbert on one process from 10 000 points).
set(args --seed 3 --n-iter 40 --early-exaggeration-iter 40 --method fft --point-order none --quiet)
if(MODE STREQUAL "same")
  execute_process(COMMAND ${NEMBED} tsne ${DATA} ${args} -j 1 -o ${WORK}/single.npy RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "single-process run failed (${rc}): ${err}")
  endif()
  execute_process(COMMAND ${MPIEXEC} ${MPIFLAGS} -n ${NP} ${NEMBED} tsne ${DATA} ${args} -j 2 -o ${WORK}/mpi${NP}.npy
                  RESULT_VARIABLE rc ERROR_VARIABLE err TIMEOUT 500)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mpirun -n ${NP} failed (${rc}): ${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/single.npy ${WORK}/mpi${NP}.npy RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    message(FATAL_ERROR "mpirun -n ${NP} wrote a different embedding than the single-process run")
  endif()
elseif(MODE STREQUAL "truncated")
  file(SIZE ${DATA} size)
  math(EXPR keep "${size} * 3 / 4")
  execute_process(COMMAND head -c ${keep} ${DATA} OUTPUT_FILE ${WORK}/cut.npy RESULT_VARIABLE rc)
  execute_process(COMMAND ${MPIEXEC} ${MPIFLAGS} -n ${NP} ${NEMBED} tsne ${WORK}/cut.npy ${args} -o ${WORK}/cut_out.npy
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(rc EQUAL 0)
    message(FATAL_ERROR "a truncated input was accepted under mpirun")
  endif()
  if(NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "mpirun did not end by itself: ${rc}")
  endif()
  string(REGEX MATCHALL "nembed: error:" errors "${err}${out}")
  list(LENGTH errors n_errors)
  if(NOT n_errors EQUAL 1 OR NOT err MATCHES "truncated data" OR NOT err MATCHES "rank [0-9]+: ")
    message(FATAL_ERROR "expected one error line naming the truncation and the rank, got:\n${err}")
  endif()
  if(EXISTS ${WORK}/cut_out.npy)
    message(FATAL_ERROR "a failed run left an output")
  endif()
else()
  message(FATAL_ERROR "MODE must be same or truncated")
endif()
