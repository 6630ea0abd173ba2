# The CLI binds its options to the library's option structs (cli/options.hpp): the help shows the library's defaults,
# the words of an optional option ("auto"/"none") mean the library's unset field, so spelling out a default gives the
# same bits as leaving it out, and what the binders refuse ends in one error line. Run with -DEXE=<nembed> -DWORK=<dir>.
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(X ${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv)

# defaults shown = the library's defaults (TsneOptions, RepulsionOptions, UmapOptions, CneOptions, TransformOptions)
set(help_cases
  "tsne|--perplexity FLOAT=\\[30\\]|--early-exaggeration TEXT=auto|--exaggeration TEXT=none|--learning-rate TEXT=auto|--method,--negative-gradient-method TEXT=auto|--theta FLOAT=0.5|--init TEXT=pca|--neighbors TEXT=auto|--metric TEXT=euclidean|--metric-param TEXT|--max-grad-norm TEXT=none|--max-step-norm TEXT=5|--initial-momentum FLOAT=0.8"
  "umap|--n-neighbors UINT=15|--metric-param TEXT|--n-epochs TEXT=auto|--min-dist FLOAT=0.1|--a TEXT=auto|--init TEXT=spectral|--negative-sample-rate FLOAT=5"
  "cne|--loss,--loss-mode TEXT=infonce|--similarity TEXT=euclidean|--metric TEXT=euclidean|--metric-param TEXT|--s TEXT=none|--learning-rate TEXT=auto|--anneal-lr TEXT=linear|--optimizer TEXT=sgd|--batch-size UINT=32768|--clamp-low TEXT=auto|--init TEXT=pca|--temperature FLOAT=0.5"
  "transform|--n-iter INT=250|--perplexity FLOAT=5")
foreach(case ${help_cases})
  string(REPLACE "|" ";" parts "${case}")
  list(POP_FRONT parts cmd)
  execute_process(COMMAND ${EXE} ${cmd} --help RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  foreach(expected ${parts})
    if(NOT rc EQUAL 0 OR NOT out MATCHES "${expected}")
      message(FATAL_ERROR "'${cmd} --help' lacks '${expected}':\n${out}")
    endif()
  endforeach()
endforeach()

# spelling out a default (or its word) gives the same bits as leaving it out
function(same_bits name base a b)
  execute_process(COMMAND ${EXE} ${base} ${a} -o ${WORK}/${name}_a.npy -q RESULT_VARIABLE rc_a ERROR_VARIABLE err_a)
  execute_process(COMMAND ${EXE} ${base} ${b} -o ${WORK}/${name}_b.npy -q RESULT_VARIABLE rc_b ERROR_VARIABLE err_b)
  if(NOT rc_a EQUAL 0 OR NOT rc_b EQUAL 0)
    message(FATAL_ERROR "${name}: a run failed:\n${err_a}\n${err_b}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/${name}_a.npy ${WORK}/${name}_b.npy
                  RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    message(FATAL_ERROR "${name}: '${a}' and '${b}' gave different embeddings")
  endif()
endfunction()
set(T "tsne;${X};--perplexity;5;--n-iter;30;--early-exaggeration-iter;10;--seed;2")
same_bits(tsne_words "${T}" "" "--learning-rate;auto;--exaggeration;none;--max-step-norm;5;--early-exaggeration;auto;--init;PCA;--method;auto")
same_bits(tsne_numbers "${T}" "--early-exaggeration;12" "--early-exaggeration;auto")
set(U "umap;${X};--n-neighbors;5;--n-epochs;20;--seed;2")
same_bits(umap_words "${U}" "" "--a;none;--b;auto;--init;spectral;--neighbors;auto;--metric;euclidean")
set(C "cne;${X};-k;5;--n-epochs;10;--batch-size;16;--seed;2")
same_bits(cne_words "${C}" "" "--learning-rate;auto;--s;none;--clamp-low;auto;--loss;infonce;--optimizer;sgd;--init;pca")
same_bits(cne_lr "${C}" "--learning-rate;1" "--learning-rate;auto")

# a different value is not ignored: a non-default enum or number changes the embedding
execute_process(COMMAND ${EXE} ${C} --loss neg -o ${WORK}/cne_neg.npy -q RESULT_VARIABLE rc)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/cne_words_a.npy ${WORK}/cne_neg.npy
                RESULT_VARIABLE differ)
if(NOT rc EQUAL 0 OR differ EQUAL 0)
  message(FATAL_ERROR "cne --loss neg gave the default loss's embedding (rc ${rc})")
endif()

# what the binders refuse: one error line naming the option or the accepted values
set(O ${WORK}/bad.npy)
set(cases
  "cne ${X} -o ${O} --learning-rate nan|--learning-rate: must be a finite number, got nan"
  "tsne ${X} -o ${O} --max-step-norm inf|--max-step-norm: must be a finite number, got inf"
  "tsne ${X} -o ${O} --exaggeration 1e999|--exaggeration: is out of the range of a double"
  "tsne ${X} -o ${O} --point-order morton|unknown point order 'morton'"
  "umap ${X} -o ${O} --a 1.5x|--a: expected a number or auto/none, got '1.5x'"
  "umap ${X} -o ${O} --n-epochs 2.5|--n-epochs must be a non-negative integer or auto, got 2.5"
  "cne ${X} -o ${O} --anneal-lr sometimes|unknown learning-rate annealing 'sometimes'"
  "cne ${X} -o ${O} --similarity manhattan|unknown contrastive metric 'manhattan'"
  "tsne ${X} -o ${O} --metric minkowski --metric-param q=3|unknown parameter 'q'"
  "umap ${X} -o ${O} --metric seuclidean --metric-param V=1,2|V"
  "tsne ${X} -o ${O} --metric euclidean --metric-param p=3|p"
  "cne ${X} -o ${O} --metric hellinger --metric-param p=3|p"
  "umap ${X} -o ${O} --neighbors annoy|unknown kNN method 'annoy'"
  "cne ${X} -o ${O} --init spectral|spectral: ")
foreach(case ${cases})
  string(FIND "${case}" "|" bar REVERSE)
  string(SUBSTRING "${case}" 0 ${bar} argstr)
  separate_arguments(args UNIX_COMMAND "${argstr}")
  math(EXPR from "${bar} + 1")
  string(SUBSTRING "${case}" ${from} -1 expected)
  expect_one_error_line("${args}")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT err MATCHES "nembed: error: [^\n]*${expected}")
    message(FATAL_ERROR "'${args}': expected an error matching '${expected}', got:\n${err}")
  endif()
endforeach()
if(EXISTS ${O})
  message(FATAL_ERROR "a failing command wrote ${O}")
endif()
