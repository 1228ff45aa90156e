from k12ai_client.cli import main

main()
