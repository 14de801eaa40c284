import clitest
if __name__ == "__main__":
    clitest.main()
