from k12ai_server.cli import main

main()
