/* A shared object without the plugin entry symbol: must be refused. */
int not_a_plugin_answer(void);
__attribute__((visibility("default"))) int not_a_plugin_answer(void) { return 42; }
