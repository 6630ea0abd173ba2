# nembed pacmap: a short run gives the same file with -j 1 and -j 2, writes its metrics, and bad TorchDR parameters
# fail with one error line naming them.
file(MAKE_DIRECTORY ${WORK})
set(DATA ${SRC}/tests/data/fmnist_4000_pca50.npy)
foreach(j 1 2)
  execute_process(COMMAND ${EXE} pacmap ${DATA} -o ${WORK}/y${j}.npy --max-iter 30 --iter-per-phase 10 -j ${j} -q
                  --seed 4 --metrics ${WORK}/m${j}.json RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pacmap -j ${j} failed: ${err}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/y1.npy ${WORK}/y2.npy RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "pacmap: -j 1 and -j 2 differ")
endif()
if(NOT EXISTS ${WORK}/m1.json)
  message(FATAL_ERROR "pacmap: no --metrics file")
endif()
foreach(case "--metric;manhattan;metric" "--mn-ratio;-1;MN_ratio" "--fp-ratio;-2;FP_ratio"
             "--n-neighbors;4000;n.neighbors" "--iter-per-phase;0;iter.per.phase")
  list(GET case 0 opt)
  list(GET case 1 val)
  list(GET case 2 word)
  execute_process(COMMAND ${EXE} pacmap ${DATA} -o ${WORK}/bad.npy ${opt} ${val} -q RESULT_VARIABLE rc
                  ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "${word}")
    message(FATAL_ERROR "pacmap ${opt} ${val}: expected an error naming ${word}, got rc ${rc}: ${err}")
  endif()
endforeach()
