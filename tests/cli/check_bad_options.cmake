# Option parsing (issue #19 item 7), table-driven: each bad invocation (arguments separated by spaces) exits non-zero
# with exactly one "nembed: error:" line that names the option (or the problem) given after "|". Run with -DEXE=<nembed> -DWORK=<dir>.
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(D ${CMAKE_CURRENT_LIST_DIR}/../data)
set(X ${D}/sensitivity_X.csv)
set(Y ${D}/sensitivity_Y.csv)
set(O ${WORK}/Y.npy)
file(WRITE ${WORK}/huge.csv "1,2\n3,1e400\n")
set(cases
  "tsne ${X} -o ${O} --seed -1|--seed: must be a non-negative integer"
  "tsne ${X} -o ${O} --seed 18446744073709551616|--seed: is too large"
  "umap ${X} -o ${O} --seed 99999999999999999999999|--seed: is too large"
  "tsne ${X} -o ${O} --pca -3|--pca: must be a non-negative integer"
  "tsne ${X} -o ${O} --n-components -2|--n-components: must be a non-negative integer"
  "knn ${X} -o ${O} -k -5|-k: must be a non-negative integer"
  "cne ${X} -o ${O} --batch-size -1|--batch-size: must be a non-negative integer"
  "umap ${X} -o ${O} --n-epochs 1e10|--n-epochs 1e10 is too large"
  "umap ${X} -o ${O} --n-epochs -4|--n-epochs must be a non-negative integer"
  "tsne ${X} -o ${O} --scale 0|--scale: must be a positive number, got 0 \\(see --help\\)$"
  "tsne ${X} -o ${O} --scale nan|--scale: must be a positive number, got nan"
  "tsne ${X} -o ${O} --scale inf|--scale: must be a finite number"
  "tsne ${X} -o ${O} --perplexity nan|--perplexity: must be a finite number"
  "tsne ${X} -o ${O} --perplexity 1e999|--perplexity: is out of the range of a double"
  "tsne ${X} -o ${O} --dof inf|--dof: must be a finite number"
  "umap ${X} -o ${O} --min-dist nan|--min-dist: must be a finite number"
  "cne ${X} -o ${O} --learning-rate -inf|--learning-rate: must be a finite number"
  "tsne ${X} -o ${O} --perplexity 5 --n-iter -5|--n-iter must be non-negative"
  "tsne ${X} -o ${O} --perplexity 5 --early-exaggeration-iter -1|--early-exaggeration-iter must be non-negative"
  "tsne ${X} -o ${O} --perplexity 5 --dof 0|--dof must be positive"
  "umap ${X} -o ${O} --n-neighbors 5 --min-dist -1|--min-dist must be >= 0"
  "cne ${X} -o ${O} -k 5 --batch-size 0|--batch-size must be >= 1"
  "cne ${X} -o ${O} -k 5 -m -5|--negative-samples must be >= 1"
  "tsne ${X} -o ${O} --metric ip|--metric ip: affinities need non-negative distances"
  "umap ${X} -o ${O} --metric ip|--metric ip: affinities need non-negative distances"
  "affinity ${X} -o ${WORK}/A --metric ip|--metric ip: affinities need non-negative distances"
  "evaluate ${X} -e ${Y} --perplexity -5|--perplexity must be a positive number"
  "evaluate ${X} -e ${Y} --perplexity nan|--perplexity: must be a finite number"
  "evaluate ${X} -e ${Y} --silhouette|--silhouette, --kmeans-ari and --knn-label-accuracy need --labels"
  "evaluate ${X} -e ${Y} --neighborhood-preservation 30|neighborhood_preservation: K \\(30\\) must be less than"
  "tsnee ${X}|unknown command 'tsnee'. did you mean 'tsne'\\? \\(commands: tsne, umap"
  "evalute|did you mean 'evaluate'"
  "xyz|unknown command 'xyz' \\(commands: "
  "pca ${WORK}/huge.csv -o ${O}|huge.csv:2:3: number out of the range of a double '1e400'"
)
foreach(case ${cases})
  string(FIND "${case}" "|" bar REVERSE)
  string(SUBSTRING "${case}" 0 ${bar} argstr)
  separate_arguments(args UNIX_COMMAND "${argstr}")
  math(EXPR from "${bar} + 1")
  string(SUBSTRING "${case}" ${from} -1 expected)
  foreach(quiet "" "-q")
    expect_one_error_line("${args};${quiet}")  # an empty last argument is dropped by execute_process
  endforeach()
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err)
  string(STRIP "${err}" err)
  if(NOT err MATCHES "nembed: error: [^\n]*${expected}")
    message(FATAL_ERROR "'${args}': expected an error matching '${expected}', got:\n${err}")
  endif()
endforeach()
if(EXISTS ${O})
  message(FATAL_ERROR "a failing command wrote ${O}")
endif()

# 1-D input (the README supports it) with the default PCA initialisation: a warning and a random start, not an error
file(WRITE ${WORK}/one.csv "0.1\n0.5\n0.2\n0.9\n1.3\n1.1\n2.0\n2.2\n0.7\n1.7\n3.1\n2.9\n0.0\n1.9\n2.6\n")
foreach(cmd "tsne;--perplexity;3;--n-iter;20;--early-exaggeration-iter;10" "cne;-k;3;--n-epochs;5")
  execute_process(COMMAND ${EXE} ${cmd} ${WORK}/one.csv -o ${WORK}/one.npy RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err MATCHES "warning: --init pca needs at least 2 input columns")
    message(FATAL_ERROR "'${cmd}' on 1-D input: rc ${rc}:\n${err}")
  endif()
endforeach()
