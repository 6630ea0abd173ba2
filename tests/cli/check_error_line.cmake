# A failing command exits non-zero and ends its stderr with exactly one line that starts with "nembed: error:"
# (progress lines printed before the failure may precede it); with --quiet that line is all there is.
foreach(args "pca;/nonexistent/file.npy;-o;/tmp/nembed_x.npy" "pca" "no-such-command"
             "knn;${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_labels.npy;-o;/tmp/nembed_k;-k;0"
             "knn;${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_labels.npy;-o;/tmp/nembed_k;-k;0;--quiet"
             "sensitivity;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv;-e;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv;-o;/tmp/nembed_s.npy"
             "sensitivity;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv;-e;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_Y.csv;-o;/tmp/nembed_s.npy;--perplexity;50;--quiet"
             "sensitivity;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv;-e;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_Y.csv;-o;/tmp/nembed_s.npy;--variances;${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_Y.csv")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "'${args}' succeeded but should fail")
  endif()
  string(STRIP "${err}" err)
  string(REGEX MATCHALL "nembed: error:" hits "${err}")
  list(LENGTH hits n_errors)
  string(FIND "${err}" "\n" last_nl REVERSE)
  if(last_nl EQUAL -1)
    set(last "${err}")
  else()
    math(EXPR start "${last_nl} + 1")
    string(SUBSTRING "${err}" ${start} -1 last)
  endif()
  if(NOT n_errors EQUAL 1 OR NOT last MATCHES "^nembed: error: ")
    message(FATAL_ERROR "'${args}' should end with one 'nembed: error:' line, got:\n${err}")
  endif()
  if(args MATCHES "--quiet" AND NOT err MATCHES "^nembed: error: [^\n]*$")
    message(FATAL_ERROR "'${args}' with --quiet should print only the error line, got:\n${err}")
  endif()
endforeach()
