/* libdrop.c - a small shared object for test_live_file.sh to write and load. */
int modus_libdrop_answer(void)
{
    return 42;
}
