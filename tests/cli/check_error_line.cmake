# Failing commands exit non-zero and end with one readable "nembed: error:" line (tests/cli/error_line.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
foreach(args "pca;/nonexistent/file.npy;-o;/tmp/nembed_x.npy" "pca" "no-such-command"
             "knn;${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_labels.npy;-o;/tmp/nembed_k;-k;0"
             "knn;${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_labels.npy;-o;/tmp/nembed_k;-k;0;--quiet")
  expect_one_error_line("${args}")
endforeach()
